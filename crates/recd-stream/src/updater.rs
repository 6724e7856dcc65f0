//! The updater: reads the event log in order and applies it to the feature store.
//!
//! A tombstone (`Record::UserDeleted`) ends the batch before it and is applied on its own:
//! the user's state is deleted, then an empty batch moves the applied offset past the
//! tombstone. Events before it are applied before the deletion and events after it start a
//! new state, so a replay of the log ends where the live run did; a crash between the two
//! steps replays the tombstone, and deleting twice is harmless.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use recd_features::{Batch, FeatureStore, FoldIn, LoggedEvent, Offset};
use recd_store::EventLog;
use recd_types::{ItemId, Record, TimestampMs, UserId};
use tokio::sync::watch;

use crate::{CategoryLookup, StreamConfig, StreamError};

/// The one writer of online features. See the crate docs.
pub struct Updater {
    log: Arc<dyn EventLog>,
    features: Arc<dyn FeatureStore>,
    categories: Arc<dyn CategoryLookup>,
    fold: Option<Arc<dyn FoldIn>>,
    config: StreamConfig,
    /// Next offset to read; `None` until (re)synchronised with the store's applied offset.
    position: Option<Offset>,
    /// Item → category, from catalog records in the log and lookups; moved into the blocking
    /// reader for each batch and back.
    category_cache: HashMap<ItemId, Option<String>>,
    /// How far back an empty store needs the log (the feature TTL), if it is bounded.
    horizon_ms: Option<i64>,
    /// Where the last replay into an empty store started (0, or the horizon's segment): a
    /// store that has applied nothing yet is in sync at this position.
    empty_start: Offset,
}

impl Updater {
    /// An updater from `log` into `features`. `fold`, if given, computes user vectors.
    pub fn new(
        log: Arc<dyn EventLog>,
        features: Arc<dyn FeatureStore>,
        categories: Arc<dyn CategoryLookup>,
        fold: Option<Arc<dyn FoldIn>>,
        config: StreamConfig,
    ) -> Self {
        Self {
            log,
            features,
            categories,
            fold,
            config,
            position: None,
            category_cache: HashMap::new(),
            horizon_ms: None,
            empty_start: 0,
        }
    }

    /// Rebuilds an empty store from the records of the last `ms` only (the feature TTL:
    /// older events are not applied anyway), skipping the log's segments that hold nothing
    /// newer, instead of reading it from offset 0.
    pub fn with_replay_horizon(mut self, ms: i64) -> Self {
        self.horizon_ms = Some(ms);
        self
    }

    /// Where an empty store starts: offset 0, or the first segment that may hold a record
    /// within the horizon.
    fn replay_start(&self) -> Offset {
        let Some(horizon) = self.horizon_ms else {
            return 0;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let from = self.log.offset_for_time(now.saturating_sub(horizon));
        if from > 0 {
            tracing::info!(
                from,
                horizon_ms = horizon,
                "empty feature store: replaying only the segments that may hold events within the TTL"
            );
        }
        from
    }

    /// The store's applied offset before a batch read from `from`, as [`Batch::first_offset`]
    /// says it: 0 for a store that holds nothing yet, even when its replay starts past 0
    /// (at the feature TTL's horizon, or on a bus whose offsets are sparse).
    fn applied_before(&self, from: Offset) -> Offset {
        if from == self.empty_start { 0 } else { from }
    }

    /// The next offset to read, once known.
    pub fn position(&self) -> Option<Offset> {
        self.position
    }

    /// Reads the store's applied offset; a store that holds nothing is replayed from the
    /// start of the log (events older than the TTL are skipped while applying).
    async fn resync(&mut self) -> Result<Offset, StreamError> {
        let applied = self.features.applied_offset().await?;
        let end = self.log.end_offset();
        let from = match applied {
            Some(o) if o <= end => o,
            Some(o) => {
                // The store is ahead of this log: it was filled from another data dir.
                tracing::warn!(
                    applied = o,
                    log_end = end,
                    "feature store is ahead of the log; replaying from the start"
                );
                self.empty_start = self.replay_start();
                self.empty_start
            }
            None => {
                self.empty_start = self.replay_start();
                self.empty_start
            }
        };
        if self.position != Some(from) {
            tracing::info!(
                from,
                log_end = end,
                backend = self.features.backend(),
                "updater resumes"
            );
        }
        self.position = Some(from);
        Ok(from)
    }

    /// Checks that the store still has the state the updater thinks it has (a Redis that
    /// restarted empty does not); if not, resynchronises. Returns true when it had to.
    pub async fn verify(&mut self) -> Result<bool, StreamError> {
        let Some(position) = self.position else {
            self.resync().await?;
            return Ok(true);
        };
        let applied = self.features.applied_offset().await?;
        if applied == Some(position) || (applied.is_none() && position == self.empty_start) {
            return Ok(false);
        }
        metrics::counter!("recd_stream_resyncs_total").increment(1);
        tracing::warn!(position, "feature store lost its state; replaying the log");
        self.position = None;
        self.resync().await?;
        Ok(true)
    }

    /// Reads and applies at most one batch. Returns the number of log records it covered
    /// (0 when the log has nothing new).
    pub async fn step(&mut self) -> Result<usize, StreamError> {
        let from = match self.position {
            Some(p) => p,
            None => self.resync().await?,
        };
        if self.log.end_offset() <= from {
            return Ok(0);
        }
        let started = Instant::now();
        let (batch, n_records) = match self.read_batch(from).await? {
            Read::Batch(batch, n_read) => (batch, n_read),
            Read::Tombstone(at, user) => return self.delete_user(from, at, &user).await,
        };
        let fold = self.fold.as_deref();
        if let Err(e) = self.features.apply(&batch, fold).await {
            self.position = None; // Resume from what the store says it applied.
            return Err(e.into());
        }
        self.position = Some(batch.next_offset);
        metrics::counter!("recd_stream_records_applied_total").increment(n_records as u64);
        metrics::histogram!("recd_stream_batch_seconds").record(started.elapsed().as_secs_f64());
        metrics::gauge!("recd_stream_applied_offset").set(batch.next_offset as f64);
        Ok(n_records)
    }

    /// Applies the tombstone of `user` at `offset`, the first record from `from` (a gap may
    /// lie between): deletes their state, then records the offset after it as applied.
    async fn delete_user(
        &mut self,
        from: Offset,
        offset: Offset,
        user: &UserId,
    ) -> Result<usize, StreamError> {
        let past = Batch {
            first_offset: self.applied_before(from),
            events: Vec::new(),
            next_offset: offset + 1,
            now_ms: now_ms(),
        };
        let applied = match self.features.delete_user(user).await {
            Ok(_) => self.features.apply(&past, None).await,
            Err(e) => Err(e),
        };
        if let Err(e) = applied {
            self.position = None;
            return Err(e.into());
        }
        tracing::debug!(offset, "user tombstone applied");
        self.position = Some(past.next_offset);
        metrics::counter!("recd_stream_records_applied_total").increment(1);
        metrics::gauge!("recd_stream_applied_offset").set(past.next_offset as f64);
        Ok(1)
    }

    /// Applies everything in the log as of now. Returns the offset reached.
    pub async fn catch_up(&mut self) -> Result<Offset, StreamError> {
        while self.step().await? > 0 {}
        Ok(self.position.unwrap_or(0))
    }

    /// Reads up to a batch of records from `from` on a blocking thread (the log is files),
    /// resolving item categories there too (the catalog is a file as well).
    async fn read_batch(&mut self, from: Offset) -> Result<Read, StreamError> {
        let log = self.log.clone();
        let lookup = self.categories.clone();
        let max = self.config.batch_max_records.max(1);
        let mut cache = std::mem::take(&mut self.category_cache);
        let joined = tokio::task::spawn_blocking(move || {
            let res = read_records(&*log, &*lookup, &mut cache, from, max);
            (res, cache)
        })
        .await
        .map_err(|e| StreamError::Task(e.to_string()))?;
        let (res, cache) = joined;
        self.category_cache = cache;
        let (events, next_offset, n_read) = match res? {
            Stretch::Events(events, next_offset, n_read) => (events, next_offset, n_read),
            Stretch::Tombstone(at, user) => return Ok(Read::Tombstone(at, user)),
        };
        Ok(Read::Batch(
            Batch {
                first_offset: self.applied_before(from),
                events,
                next_offset,
                now_ms: now_ms(),
            },
            n_read,
        ))
    }

    /// Runs until `shutdown` turns true: applies new records whenever `wake` changes (the
    /// server sends the log end after each append) or every poll interval, retries failures
    /// with backoff, and publishes the applied offset on `progress` (`None` until the first
    /// full catch-up, which is what readiness waits for). On shutdown it applies what is
    /// left in the log, so a graceful stop leaves the store up to date.
    pub async fn run(
        mut self,
        mut wake: watch::Receiver<Offset>,
        mut shutdown: watch::Receiver<bool>,
        progress: watch::Sender<Option<Offset>>,
    ) {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(1));
        let evict_every = Duration::from_secs(self.config.evict_interval_secs.max(1));
        let mut last_evict = Instant::now();
        let mut backoff = Duration::from_millis(self.config.retry_min_ms.max(1));
        let mut caught_up_once = false;
        loop {
            if *shutdown.borrow() {
                break;
            }
            match self.step().await {
                Ok(n) => {
                    backoff = Duration::from_millis(self.config.retry_min_ms.max(1));
                    if n > 0 {
                        if caught_up_once {
                            progress.send_replace(self.position);
                        }
                        continue; // More may be waiting: read again before sleeping.
                    }
                    if !caught_up_once {
                        caught_up_once = true;
                        tracing::info!(offset = self.position, "features caught up with the log");
                    }
                    progress.send_replace(self.position);
                }
                Err(e) => {
                    metrics::counter!("recd_stream_errors_total").increment(1);
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "updater step failed; retrying from the store's offset");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_millis(self.config.retry_max_ms));
                    continue;
                }
            }
            if last_evict.elapsed() >= evict_every {
                last_evict = Instant::now();
                if let Ok(n) = self.features.evict_expired(now_ms()).await
                    && n > 0
                {
                    tracing::debug!(evicted = n, "expired users dropped");
                }
            }
            tokio::select! {
                changed = wake.changed() => {
                    if changed.is_err() {
                        // The server is gone; keep polling until shutdown.
                        tokio::time::sleep(poll).await;
                    }
                }
                _ = tokio::time::sleep(poll) => {
                    if let Err(e) = self.verify().await {
                        tracing::debug!(error = %e, "store check failed; will retry");
                    }
                }
                _ = shutdown.changed() => {}
            }
        }
        match self.catch_up().await {
            Ok(offset) => {
                progress.send_replace(Some(offset));
                tracing::info!(offset, "updater stopped with the store up to date");
            }
            Err(e) => {
                tracing::warn!(error = %e, "updater stopped before catching up; the next start resumes from the store's offset")
            }
        }
    }
}

/// What one read of the log found at the updater's position.
enum Read {
    /// A stretch of records to apply as a batch, and how many records it covers (offsets
    /// may be sparse: a partitioned bus's are, and gaps are).
    Batch(Batch, usize),
    /// The first record from the position is this user's tombstone, at this offset.
    Tombstone(Offset, UserId),
}

/// What [`read_records`] found: events with categories, the offset after the last record
/// taken and how many records were taken, or a tombstone as the first record.
enum Stretch {
    Events(Vec<LoggedEvent>, Offset, usize),
    Tombstone(Offset, UserId),
}

/// Reads up to `max` records from `from`, stopping before a tombstone unless it is the first
/// record (tombstones are applied on their own, between the batches around them).
fn read_records(
    log: &dyn EventLog,
    lookup: &dyn CategoryLookup,
    cache: &mut HashMap<ItemId, Option<String>>,
    from: Offset,
    max: usize,
) -> Result<Stretch, StreamError> {
    let mut events = Vec::new();
    let mut next = from;
    let mut taken = 0;
    for (n_read, entry) in log.read_from(from)?.take(max).enumerate() {
        let (offset, record) = entry?;
        if let Record::UserDeleted { user, .. } = record {
            if n_read == 0 {
                return Ok(Stretch::Tombstone(offset, user));
            }
            break;
        }
        next = offset + 1;
        taken += 1;
        match record {
            Record::Event(event) => {
                let category = event.item_id.as_ref().and_then(|item| {
                    if !lookup.cacheable() {
                        return lookup.category(item);
                    }
                    cache
                        .entry(item.clone())
                        .or_insert_with(|| lookup.category(item))
                        .clone()
                });
                events.push(LoggedEvent {
                    offset,
                    event,
                    category,
                });
            }
            Record::Item { item, .. } => {
                cache.insert(item.id.clone(), item.category.clone());
            }
            Record::User { .. } | Record::UserDeleted { .. } | Record::Impression(_) => {}
        }
    }
    Ok(Stretch::Events(events, next, taken))
}

/// Wall-clock time in ms since the epoch.
pub(crate) fn now_ms() -> TimestampMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as TimestampMs)
}
