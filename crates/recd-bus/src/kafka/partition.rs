//! One partition of the topic read as an [`EventLog`], so the updater applies it as it
//! applies the embedded log: from an offset, in order, skipping what is not ours.
//!
//! Each read view has a consumer of its own, assigned to its partition on first use (no group
//! membership: [`crate::Leases`] decide who reads what; making a view never waits on the
//! broker). It stays assigned between reads, so librdkafka keeps fetching ahead and a read
//! that continues where the last one stopped starts from what is already fetched.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset as KafkaOffset, TopicPartitionList};
use recd_store::{EventLog, LogDamage, LogIter, Offset, StoreError};
use recd_types::Record;

use super::client_config;
use super::logs::Logs;
use crate::{BusConfig, BusError, BusPartition};

/// Most damaged messages remembered for [`EventLog::damage`] (the count goes on in metrics).
const MAX_DAMAGE_KEPT: usize = 1_000;
/// Least time between two commits of the consumer group's offset (it is for tools only).
const COMMIT_EVERY: Duration = Duration::from_millis(500);
/// Least time between two questions to the broker about the partition's end: in between,
/// the fetches' high watermark and the messages seen keep the end current (a question is a
/// round trip, several milliseconds on some brokers, and the updater asks at every step).
const ASK_END_EVERY: Duration = Duration::from_millis(250);

/// A read view of one partition. Appends go through the bus, not here.
pub struct KafkaPartition {
    consumer: Mutex<Assigned>,
    topic: String,
    partition: u32,
    timeout: Duration,
    /// The largest end learned by any view of this partition made by the same bus (a
    /// message seen at offset `o` means the end is past `o`): what the waker's view saw, the
    /// updater's view knows at once. Answered while the broker cannot be asked.
    known_end: Arc<AtomicU64>,
    /// When the group's offset was last committed (ms since this view was made).
    last_commit: AtomicI64,
    /// When the broker was last asked for the partition's end (ms since this view was made).
    last_asked: AtomicI64,
    made: Instant,
    damage: Mutex<BTreeSet<(Offset, String)>>,
}

/// A message's offset and its record, or why it is not one of ours.
type Polled = (Offset, Result<Record, String>);

/// The consumer and the offset its fetch queue continues from.
struct Assigned {
    consumer: BaseConsumer<Logs>,
    next: Option<i64>,
}

impl KafkaPartition {
    pub(super) fn new(
        brokers: &str,
        topic: &str,
        partition: u32,
        config: &BusConfig,
        known_end: Arc<AtomicU64>,
    ) -> Result<Self, BusError> {
        let consumer: BaseConsumer<Logs> = client_config(brokers, config)
            .set("group.id", config.consumer_group())
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", config.kafka_fetch_wait_ms.to_string())
            // Fetch ahead, but a partition's worth of a few MB, not librdkafka's 64 MB.
            .set("queued.max.messages.kbytes", "4096")
            .create_with_context(Logs)
            .map_err(|e| BusError::Config(format!("bus.events = {:?}: {e}", config.events)))?;
        let timeout = Duration::from_millis(config.response_timeout_ms.max(1));
        Ok(Self {
            consumer: Mutex::new(Assigned {
                consumer,
                next: None,
            }),
            topic: topic.to_string(),
            partition,
            timeout,
            known_end,
            last_commit: AtomicI64::new(i64::MIN),
            last_asked: AtomicI64::new(i64::MIN),
            made: Instant::now(),
            damage: Mutex::new(BTreeSet::new()),
        })
    }

    fn unavailable(&self, what: &str, e: impl std::fmt::Display) -> StoreError {
        StoreError::Closed(format!(
            "Kafka topic {} partition {}: {what}: {e}",
            self.topic, self.partition
        ))
    }

    /// Points the consumer at `offset` unless its queue already continues from there.
    fn seek(&self, state: &mut Assigned, offset: Offset) -> Result<(), StoreError> {
        let offset = offset as i64;
        if state.next == Some(offset) {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(
            &self.topic,
            self.partition as i32,
            KafkaOffset::Offset(offset),
        )
        .and_then(|()| state.consumer.assign(&tpl))
        .map_err(|e| self.unavailable("assigning the partition", e))?;
        state.next = Some(offset);
        Ok(())
    }

    /// The next message at or after `offset` within `wait`, skipping any the queue still
    /// holds from before it.
    fn poll(
        &self,
        state: &mut Assigned,
        offset: Offset,
        wait: Duration,
    ) -> Result<Option<Polled>, StoreError> {
        self.seek(state, offset)?;
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(message) = state.consumer.poll(left) else {
                return Ok(None);
            };
            let message = message.map_err(|e| {
                state.next = None;
                self.unavailable("reading", e)
            })?;
            let at = message.offset();
            self.known_end
                .fetch_max((at + 1).max(0) as u64, Ordering::Relaxed);
            if at < offset as i64 {
                continue;
            }
            state.next = Some(at + 1);
            return Ok(Some((at as u64, decode(&message))));
        }
    }

    /// Counts, logs and remembers a message that is not one of ours.
    fn damaged(&self, offset: Offset, reason: String) {
        metrics::counter!("recd_bus_malformed_total", "partition" => self.partition.to_string())
            .increment(1);
        let mut damage = self.damage.lock().unwrap_or_else(|p| p.into_inner());
        if damage.len() < MAX_DAMAGE_KEPT && damage.insert((offset, reason.clone())) {
            tracing::error!(
                topic = %self.topic,
                partition = self.partition,
                offset,
                reason = %reason,
                "malformed record on the event bus skipped"
            );
        }
    }

    /// The high watermark librdkafka learned from its last fetch (`None` before one).
    fn fetched_end(state: &Assigned, topic: &str, partition: u32) -> Option<Offset> {
        let topic = std::ffi::CString::new(topic).ok()?;
        let (mut low, mut high) = (0i64, 0i64);
        // SAFETY: the client pointer is valid while `state.consumer` lives (we hold it), the
        // topic is a NUL-terminated string that outlives the call, and the two out-pointers
        // are to live locals. The call only reads librdkafka's cached fetch state.
        let err = unsafe {
            rdkafka_sys::rd_kafka_get_watermark_offsets(
                state.consumer.client().native_ptr(),
                topic.as_ptr(),
                partition as i32,
                &mut low,
                &mut high,
            )
        };
        (err == rdkafka_sys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
            .then_some(high as u64)
    }
}

/// The record of a message: payload bytes under the schema in header `s`.
fn decode(message: &BorrowedMessage<'_>) -> Result<Record, String> {
    let schema = message
        .headers()
        .and_then(|h| h.iter().find(|h| h.key == "s"))
        .and_then(|h| h.value)
        .ok_or("no header s (record schema)")?;
    let schema: u32 = std::str::from_utf8(schema)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or("header s is not a record schema number")?;
    recd_store::codec::decode_record(schema, message.payload().ok_or("no payload")?)
}

impl BusPartition for KafkaPartition {
    fn partition(&self) -> u32 {
        self.partition
    }

    /// Polls the consumer from `from` for up to `block`.
    fn wait_for(&self, from: Offset, block: Duration) -> Result<bool, StoreError> {
        let mut state = self.consumer.lock().unwrap_or_else(|p| p.into_inner());
        Ok(self.poll(&mut state, from, block)?.is_some())
    }

    /// Commits `next` as the consumer group's offset of this partition (at most twice a
    /// second; best effort: the feature store's applied offset is the one resumed from).
    fn commit(&self, next: Offset) {
        let now = self.made.elapsed().as_millis() as i64;
        let last = self.last_commit.load(Ordering::Relaxed);
        if last != i64::MIN && now - last < COMMIT_EVERY.as_millis() as i64 {
            return;
        }
        self.last_commit.store(now, Ordering::Relaxed);
        let mut tpl = TopicPartitionList::new();
        let state = self.consumer.lock().unwrap_or_else(|p| p.into_inner());
        let committed = tpl
            .add_partition_offset(
                &self.topic,
                self.partition as i32,
                KafkaOffset::Offset(next as i64),
            )
            .and_then(|()| state.consumer.commit(&tpl, CommitMode::Async));
        if let Err(e) = committed {
            tracing::debug!(partition = self.partition, error = %e, "consumer group offset not committed");
        }
    }
}

impl EventLog for KafkaPartition {
    fn append(&self, _records: &[Record]) -> Result<Offset, StoreError> {
        Err(StoreError::ReadOnly(PathBuf::from(format!(
            "kafka topic {} partition {}",
            self.topic, self.partition
        ))))
    }

    /// One past the newest message: the largest of the broker's answer (`ListOffsets`), the
    /// high watermark of this view's last fetch and the end that the bus's views saw; the
    /// last known end while the broker cannot be asked. Kafka answers the first exactly; a
    /// Kafka-protocol broker that answers it from its newest batch's start (Tansu 0.6 does)
    /// is covered by the others.
    fn end_offset(&self) -> Offset {
        let mut state = self.consumer.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.made.elapsed().as_millis() as i64;
        let last = self.last_asked.load(Ordering::Relaxed);
        // None: not asked this time (asked lately).
        let asked =
            (last == i64::MIN || now - last >= ASK_END_EVERY.as_millis() as i64).then(|| {
                self.last_asked.store(now, Ordering::Relaxed);
                state
                    .consumer
                    .fetch_watermarks(&self.topic, self.partition as i32, self.timeout)
                    .map(|(_, high)| high.max(0) as u64)
            });
        if state.next.is_none()
            && let Some(Ok(high)) = asked
        {
            // A view that fetches nothing learns no end from fetches: fetch from near the end
            // (an offset, not `End`: librdkafka fetches from a logical offset only once the
            // application polls). Done here rather than when the view is made, so making one
            // never waits on the broker.
            if let Err(e) = self.seek(&mut state, high.saturating_sub(1)) {
                tracing::debug!(partition = self.partition, error = %e, "cannot start fetching");
            }
        }
        let mut fetched = Self::fetched_end(&state, &self.topic, self.partition);
        // A new view's first fetch may still be on its way: it is what tells the truth where
        // the broker's answer does not.
        let deadline = Instant::now() + self.timeout.min(Duration::from_millis(500));
        while fetched.is_none() && state.next.is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
            fetched = Self::fetched_end(&state, &self.topic, self.partition);
        }
        let end = match asked {
            Some(Ok(high)) => high.max(fetched.unwrap_or(0)),
            Some(Err(e)) => {
                tracing::debug!(partition = self.partition, error = %e, "cannot ask the partition's end");
                fetched.unwrap_or(0)
            }
            None => fetched.unwrap_or(0),
        };
        self.known_end.fetch_max(end, Ordering::Relaxed).max(end)
    }

    fn read_from(&self, offset: Offset) -> Result<LogIter<'_>, StoreError> {
        let end = self.end_offset();
        Ok(Box::new(Messages {
            log: self,
            next: offset,
            end,
        }))
    }

    /// The first offset whose broker timestamp is at or after `ms` (the append time, or the
    /// producer's time: recd's producer stamps the send time); the start when the broker
    /// cannot say, so that nothing is skipped.
    fn offset_for_time(&self, ms: recd_types::TimestampMs) -> Offset {
        let mut tpl = TopicPartitionList::new();
        let state = self.consumer.lock().unwrap_or_else(|p| p.into_inner());
        let found = tpl
            .add_partition_offset(&self.topic, self.partition as i32, KafkaOffset::Offset(ms))
            .and_then(|()| state.consumer.offsets_for_times(tpl, self.timeout));
        drop(state);
        match found.map(|t| t.elements().first().map(|e| e.offset())) {
            Ok(Some(KafkaOffset::Offset(o))) => o.max(0) as u64,
            Ok(Some(KafkaOffset::End)) => self.end_offset(),
            Ok(_) => 0,
            Err(e) => {
                tracing::warn!(partition = self.partition, error = %e, "cannot find an offset by time; reading from the start");
                0
            }
        }
    }

    fn damage(&self) -> Vec<LogDamage> {
        let damage = self.damage.lock().unwrap_or_else(|p| p.into_inner());
        damage
            .iter()
            .map(|(offset, reason)| LogDamage {
                segment: PathBuf::from(format!(
                    "kafka {} partition {} offset {offset}",
                    self.topic, self.partition
                )),
                byte_start: 0,
                byte_end: 0,
                first_lost: *offset,
                n_lost: 1,
                exact: true,
                reason: reason.clone(),
                quarantined: None,
            })
            .collect()
    }
}

/// The records of a partition from an offset up to the end as of the call; malformed
/// messages are skipped (a gap).
struct Messages<'a> {
    log: &'a KafkaPartition,
    next: Offset,
    end: Offset,
}

impl Iterator for Messages<'_> {
    type Item = Result<(Offset, Record), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.next < self.end {
            let mut state = self.log.consumer.lock().unwrap_or_else(|p| p.into_inner());
            let polled = self.log.poll(&mut state, self.next, self.log.timeout);
            drop(state);
            match polled {
                Ok(Some((offset, decoded))) => {
                    self.next = offset + 1;
                    match decoded {
                        Ok(record) => return Some(Ok((offset, record))),
                        Err(reason) => self.log.damaged(offset, reason),
                    }
                }
                Ok(None) => {
                    // The broker said the partition reaches `end` but sends nothing more
                    // (retention removed it, or a transaction marker sits there).
                    self.end = self.next;
                    return Some(Err(self.log.unavailable(
                        "reading",
                        format!(
                            "no record at offset {} within {:?}",
                            self.next, self.log.timeout
                        ),
                    )));
                }
                Err(e) => {
                    self.end = self.next;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}
