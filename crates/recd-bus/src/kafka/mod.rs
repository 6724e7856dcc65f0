//! Kafka as the event bus: one topic, partition `p` of the topic is the bus's partition `p`.
//!
//! Appends go through librdkafka's idempotent producer with `acks=all`: a caller is answered
//! once the broker acknowledged every record of the call (all in-sync replicas have them),
//! or with an error, never both. librdkafka batches what callers send meanwhile into one
//! request per partition (`linger.ms`), the group commit of this engine; the idempotent
//! producer keeps each partition's order through its own retries. recd places records
//! itself (the same hash as every bus, [`crate::partition_of`]) rather than by Kafka's key
//! hash, so a user's partition does not depend on the engine; the key is still the user id,
//! for Kafka's own tools.
//!
//! The catalog channel is a topic of its own, `<topic>.catalog`, of one partition.
//!
//! A record is the message payload (its bytes; [`recd_store::codec`]) with a header `s`
//! holding the record schema it was written under, decoded by the same decoder per schema as
//! the file log. A message's offset is its position in the partition.
//!
//! Who applies which partition is decided by the [`crate::Leases`] on the feature store, as
//! on Redis Streams, not by Kafka's group rebalancing: the partition's applied offset lives
//! with the features it produced, so the fence must be there too, and one mechanism serves
//! every engine. The updater's progress is still committed to the consumer group
//! ([`BusConfig::consumer_group`]), so Kafka's tools show its lag.

mod logs;
mod partition;
mod topic;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use recd_types::Record;
use tokio::sync::oneshot;

pub use partition::KafkaPartition;

use crate::pending::Inner;
use crate::position::record_key;
use crate::{BusConfig, BusError, BusPartition, EventBus, PendingPositions, Position};

/// The bus on a Kafka topic. See the module docs.
pub struct KafkaBus {
    config: BusConfig,
    brokers: String,
    topic: String,
    producer: ThreadedProducer<Deliveries>,
    /// The topic was found (or made) with the configured number of partitions.
    topic_ready: AtomicBool,
    /// Per partition, the end its views saw (shared by them; see [`KafkaPartition`]).
    known_ends: Vec<Arc<AtomicU64>>,
    /// The catalog channel: a topic of one partition, `<topic>.catalog`.
    catalog_topic: String,
    catalog_end: Arc<AtomicU64>,
}

impl KafkaBus {
    /// The bus that `config.events` (`kafka://host:port,.../topic`) names. Creates the topic
    /// with `bus.partitions` partitions when it is missing; refuses a topic with another
    /// number. An unreachable broker is not an error here: appends fail (503) until it
    /// answers, and readiness says so.
    pub fn open(config: BusConfig) -> Result<Self, BusError> {
        config.validate().map_err(BusError::Config)?;
        let (brokers, topic) = parse_url(&config.events)?;
        let producer: ThreadedProducer<Deliveries> = client_config(&brokers, &config)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "1")
            .set(
                "message.timeout.ms",
                config.kafka_delivery_timeout_ms.max(1).to_string(),
            )
            // A request in flight to a broker that died is failed after this long too (its
            // records may have landed: the caller hears an error and retries with event ids).
            .set(
                "request.timeout.ms",
                config
                    .kafka_delivery_timeout_ms
                    .clamp(1, 30_000)
                    .to_string(),
            )
            .create_with_context(Deliveries)
            .map_err(|e| BusError::Config(format!("bus.events = {:?}: {e}", config.events)))?;
        let bus = Self {
            config: config.clone(),
            brokers,
            catalog_topic: format!("{topic}.catalog"),
            catalog_end: Arc::new(AtomicU64::new(0)),
            topic,
            producer,
            topic_ready: AtomicBool::new(false),
            known_ends: (0..config.partitions)
                .map(|_| Arc::new(AtomicU64::new(0)))
                .collect(),
        };
        match bus.ensure_topic() {
            Ok(()) => {}
            Err(e @ BusError::Config(_)) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "Kafka not reachable yet; appends fail until it is")
            }
        }
        Ok(bus)
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// A read view of partition `p` (a consumer of its own).
    pub fn partition(&self, p: u32) -> Result<KafkaPartition, BusError> {
        let known_end = self.known_ends.get(p as usize).cloned().ok_or_else(|| {
            BusError::Config(format!(
                "partition {p} of a bus of {} (bus.partitions)",
                self.config.partitions
            ))
        })?;
        KafkaPartition::new(&self.brokers, &self.topic, p, &self.config, known_end)
    }

    /// Sends `records`, each to the topic and partition `place` gives it (and the bus
    /// partition its position reports); the answer resolves once all are acknowledged.
    fn send<'a>(
        &'a self,
        records: &[Record],
        place: impl Fn(&Record) -> (&'a str, u32, u32),
    ) -> PendingPositions {
        let mut encoded = Vec::with_capacity(records.len());
        for record in records {
            match recd_store::codec::encode_record(record) {
                Ok(bytes) => encoded.push((place(record), record_key(record), bytes)),
                Err(recd_store::StoreError::Invalid(v)) => {
                    return PendingPositions::ready(Err(BusError::Invalid(v)));
                }
                Err(e) => {
                    return PendingPositions::ready(Err(BusError::Unavailable(e.to_string())));
                }
            }
        }
        if encoded.is_empty() {
            return PendingPositions::ready(Ok(Vec::new()));
        }
        let (reply, rx) = oneshot::channel();
        let call = Arc::new(Call {
            positions: Mutex::new(vec![None; encoded.len()]),
            remaining: AtomicUsize::new(encoded.len()),
            failed: Mutex::new(None),
            reply: Mutex::new(Some(reply)),
        });
        let schema = recd_store::codec::RECORD_SCHEMA.to_string();
        for (i, ((topic, p, reported), key, bytes)) in encoded.iter().enumerate() {
            let headers = OwnedHeaders::new().insert(Header {
                key: "s",
                value: Some(schema.as_str()),
            });
            let slot = Box::new(Slot {
                call: call.clone(),
                index: i,
                partition: *reported,
            });
            let message = BaseRecord::with_opaque_to(topic, slot)
                .partition(*p as i32)
                .key(*key)
                .payload(bytes.as_slice())
                .headers(headers);
            if let Err((e, _)) = self.producer.send(message) {
                // The rest of the call is not sent; the records already queued may still land
                // (a client's retry with event ids makes that harmless), but nothing is
                // acknowledged.
                call.fail(format!("Kafka producer refused a record: {e}"));
                call.settle(encoded.len() - i);
                break;
            }
        }
        PendingPositions(Inner::Waiting(rx))
    }

    fn ensure_topic(&self) -> Result<(), BusError> {
        if self.topic_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        topic::ensure(
            &self.brokers,
            &self.topic,
            self.config.partitions,
            &self.config,
        )?;
        topic::ensure(&self.brokers, &self.catalog_topic, 1, &self.config)?;
        self.topic_ready.store(true, Ordering::Release);
        Ok(())
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.config.response_timeout_ms.max(1))
    }
}

impl EventBus for KafkaBus {
    fn config(&self) -> &BusConfig {
        &self.config
    }

    fn append(&self, records: &[Record]) -> PendingPositions {
        self.send(records, |r| {
            (&self.topic, self.partition_of(r), self.partition_of(r))
        })
    }

    fn append_catalog(&self, records: &[Record]) -> PendingPositions {
        let catalog = self.config.catalog_partition();
        self.send(records, |_| (&self.catalog_topic, 0, catalog))
    }

    fn catalog_reader(&self) -> Result<Box<dyn BusPartition>, BusError> {
        Ok(Box::new(KafkaPartition::new(
            &self.brokers,
            &self.catalog_topic,
            0,
            &self.config,
            self.catalog_end.clone(),
        )?))
    }

    fn reader(&self, p: u32) -> Result<Box<dyn BusPartition>, BusError> {
        Ok(Box::new(self.partition(p)?))
    }

    /// The delivery timeout, and a second for librdkafka's timeout scan.
    fn append_deadline(&self) -> Duration {
        Duration::from_millis(self.config.kafka_delivery_timeout_ms + 1_000)
    }

    /// The broker answers, and the topic has the configured partitions.
    fn check(&self) -> Result<(), BusError> {
        self.ensure_topic()?;
        self.producer
            .client()
            .fetch_metadata(Some(&self.topic), self.timeout())
            .map_err(|e| BusError::Unavailable(format!("Kafka metadata: {e}")))?;
        Ok(())
    }
}

impl Drop for KafkaBus {
    /// Waits (up to the response timeout) for the records in flight, so that their callers
    /// hear the outcome.
    fn drop(&mut self) {
        let _ = self.producer.flush(self.timeout());
    }
}

/// Where a caller hears the outcome of its append.
type Reply = oneshot::Sender<Result<Vec<Position>, BusError>>;

/// One caller's append in flight: its records' positions, filled as deliveries come.
struct Call {
    positions: Mutex<Vec<Option<Position>>>,
    remaining: AtomicUsize,
    failed: Mutex<Option<String>>,
    reply: Mutex<Option<Reply>>,
}

impl Call {
    fn fail(&self, why: String) {
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(why);
    }

    /// `n` records of the call are decided; the last one answers the caller.
    fn settle(&self, n: usize) {
        if self.remaining.fetch_sub(n, Ordering::AcqRel) != n {
            return;
        }
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner()).take();
        let positions =
            std::mem::take(&mut *self.positions.lock().unwrap_or_else(|p| p.into_inner()));
        let result = match failed {
            Some(why) => Err(BusError::Unavailable(why)),
            None => positions
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| BusError::Unavailable("a delivery report is missing".into())),
        };
        if let Some(reply) = self.reply.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = reply.send(result);
        }
    }
}

/// Which record of which call a delivery report is for.
struct Slot {
    call: Arc<Call>,
    index: usize,
    /// The bus partition the position reports.
    partition: u32,
}

/// The producer's context: routes each delivery report to its call.
struct Deliveries;

impl ClientContext for Deliveries {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        logs::log(level, fac, message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        logs::client_error(&error, reason);
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<Slot>;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: Self::DeliveryOpaque) {
        match result {
            Ok(message) => {
                metrics::counter!("recd_bus_records_appended_total").increment(1);
                let position = Position {
                    partition: slot.partition,
                    offset: message.offset() as u64,
                };
                slot.call
                    .positions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())[slot.index] = Some(position);
            }
            Err((e, _)) => slot
                .call
                .fail(format!("Kafka did not acknowledge a record: {e}")),
        }
        slot.call.settle(1);
    }
}

/// Settings every client of the bus shares.
fn client_config(brokers: &str, config: &BusConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set(
            "socket.connection.setup.timeout.ms",
            config.connect_timeout_ms.max(1000).to_string(),
        )
        // recd makes its topic itself, with the partitions it was told; a metadata request
        // must never make one with the broker's defaults.
        .set("allow.auto.create.topics", "false")
        // Requests here are small and latency-bound (one event's append, one fetch): Nagle's
        // algorithm would hold them for the peer's delayed ACK.
        .set("socket.nagle.disable", "true")
        .set("log_level", "4");
    c
}

/// `kafka://host:port,host:port/topic` → (`host:port,host:port`, `topic`).
fn parse_url(url: &str) -> Result<(String, String), BusError> {
    let bad = |why: &str| {
        BusError::Config(format!(
            "bus.events = {url:?}: {why} (expected kafka://host:port,.../topic)"
        ))
    };
    let rest = url
        .strip_prefix("kafka://")
        .ok_or_else(|| bad("not a kafka:// URL"))?;
    let (brokers, topic) = rest.split_once('/').ok_or_else(|| bad("no topic"))?;
    if brokers.split(',').any(|b| b.trim().is_empty()) {
        return Err(bad("empty broker address"));
    }
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.is_empty() || topic.len() > 249 || !topic.chars().all(legal) {
        return Err(bad("a topic name is 1 to 249 of [a-zA-Z0-9._-]"));
    }
    Ok((brokers.to_string(), topic.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_brokers_and_topic() {
        assert_eq!(
            parse_url("kafka://a:9092,b:9093/user_events").unwrap(),
            ("a:9092,b:9093".to_string(), "user_events".to_string())
        );
        for bad in [
            "kafka://a:9092",
            "kafka://a:9092/",
            "kafka://,b:1/t",
            "kafka://a:1/t/x",
            "kafka://a:1/t t",
        ] {
            let e = parse_url(bad).unwrap_err().to_string();
            assert!(e.contains("bus.events"), "{bad}: {e}");
        }
    }
}
