//! Impressions: what each answer showed, written to a log of their own.
//!
//! The engine hands every served answer to an [`ImpressionSink`]; [`LogSink`] queues it and
//! one thread appends what queued up as a batch to the impressions log (one fsync per batch,
//! shared by every answer in it). The queue is bounded: when the writer falls behind (a slow
//! disk, an overload), new impressions are dropped and counted
//! (`recd_impressions_dropped_total`) instead of slowing answers down or growing without
//! limit. An impression is evidence for experiments, not something a client was promised, so
//! losing a few under overload is acceptable; an event never is, and events go through their
//! own log.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use std::time::Duration;

use recd_store::EventLog;
use recd_types::{Impression, ItemId, Record, Shown, Surface, UserId};
use serde::{Deserialize, Serialize};

use crate::engine::{Request, SimilarRequest};
use crate::{Answer, AnswerItem, Similar};

/// `[serve.impressions]`: whether and how answers are recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImpressionConfig {
    /// Record an impression for every answer served over HTTP.
    pub enabled: bool,
    /// Impressions waiting for the writer at most; past it new ones are dropped (counted in
    /// `recd_impressions_dropped_total`).
    pub queue: usize,
    /// Most impressions appended as one batch (one fsync).
    pub batch: usize,
    /// How long after an answer events without a `request_id` (a click on an item shown to
    /// that user) are attributed to it, and how long an answer is remembered for events that
    /// cite it.
    pub attribution_window_secs: u64,
    /// Most answers remembered for attribution (about 200 bytes plus 30 per item each).
    pub attribution_max_kept: usize,
    /// How far back experiment reports count, in days: after a start the tally is rebuilt
    /// from the impressions and events of this span.
    pub report_horizon_days: u64,
}

impl Default for ImpressionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            queue: 65_536,
            batch: 1024,
            attribution_window_secs: 3600,
            attribution_max_kept: 1_000_000,
            report_horizon_days: 30,
        }
    }
}

impl ImpressionConfig {
    /// Checks values that would make the writer useless.
    pub fn validate(&self) -> Result<(), String> {
        if self.queue == 0 {
            return Err("serve.impressions.queue must be at least 1".into());
        }
        if self.batch == 0 {
            return Err("serve.impressions.batch must be at least 1".into());
        }
        if self.attribution_max_kept == 0 {
            return Err("serve.impressions.attribution_max_kept must be at least 1".into());
        }
        Ok(())
    }
}

/// Where the engine sends what it showed. Must not block: it is called on the answer's path.
pub trait ImpressionSink: Send + Sync {
    /// Records one impression, or drops it (and counts the drop) when it cannot keep up.
    fn record(&self, impression: Impression);
}

/// Queues impressions for one writer thread that appends them to a log.
pub struct LogSink {
    tx: Mutex<Option<SyncSender<Impression>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl LogSink {
    /// Starts the writer thread over `log`.
    pub fn start(log: Arc<dyn EventLog>, config: &ImpressionConfig) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel(config.queue.max(1));
        let batch = config.batch.max(1);
        let writer = std::thread::Builder::new()
            .name("recd-impressions".into())
            .spawn(move || write_loop(log.as_ref(), &rx, batch))?;
        Ok(Self {
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Stops taking impressions, appends those queued, and waits for the writer to finish.
    pub fn close(&self) {
        drop(lock(&self.tx).take());
        if let Some(writer) = lock(&self.writer).take()
            && writer.join().is_err()
        {
            tracing::error!("the impressions writer panicked");
        }
    }
}

impl Drop for LogSink {
    fn drop(&mut self) {
        self.close();
    }
}

impl ImpressionSink for LogSink {
    fn record(&self, impression: Impression) {
        let Some(tx) = lock(&self.tx).clone() else {
            dropped("closed");
            return;
        };
        match tx.try_send(impression) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => dropped("queue_full"),
            Err(TrySendError::Disconnected(_)) => dropped("closed"),
        }
    }
}

/// What a recommendation request says about where its answer is shown, kept while the
/// request is answered.
pub(crate) struct Showing {
    user_id: UserId,
    at_ms: i64,
    context: String,
    device: Option<String>,
    category: Option<String>,
    offset: usize,
}

impl Showing {
    pub(crate) fn of(request: &Request) -> Self {
        Self {
            user_id: request.user_id.clone(),
            at_ms: request.now_ms,
            context: request.context.clone(),
            device: request.device.clone(),
            category: request.category.clone(),
            offset: request.offset,
        }
    }

    /// The impression of `answer` as shown: its items past the offset, at their positions in
    /// the whole list.
    pub(crate) fn impression(self, answer: &Answer, cached: bool, took: Duration) -> Impression {
        Impression {
            request_id: answer.request_id.clone(),
            at_ms: self.at_ms,
            surface: Surface::Recommendations,
            user_id: Some(self.user_id),
            item_id: None,
            experiments: answer.experiments.clone(),
            model_version: answer.model_version.clone(),
            context: Some(self.context),
            device: self.device,
            category: self.category,
            items: shown(&answer.items, self.offset),
            cold: answer.cold,
            fallback: answer.fallback,
            degraded: answer.degraded,
            cached,
            latency_us: micros(took),
        }
    }
}

/// The impression of a similar-items answer.
pub(crate) fn of_similar(
    request: &SimilarRequest,
    similar: &Similar,
    took: Duration,
) -> Impression {
    Impression {
        request_id: similar.request_id.clone(),
        at_ms: request.now_ms,
        surface: Surface::Similar,
        user_id: request.user_id.clone(),
        item_id: ItemId::parse(request.item_id.clone()).ok(),
        experiments: similar.experiments.clone(),
        model_version: Some(similar.model_version.clone()),
        context: None,
        device: None,
        category: None,
        items: shown(&similar.items, 0),
        cold: false,
        fallback: false,
        degraded: false,
        cached: false,
        latency_us: micros(took),
    }
}

/// `items[offset..]` with their positions in the whole list (at most `MAX_SHOWN`).
fn shown(items: &[AnswerItem], offset: usize) -> Vec<Shown> {
    items
        .iter()
        .enumerate()
        .skip(offset)
        .take(recd_types::MAX_SHOWN)
        .filter_map(|(position, item)| {
            Some(Shown {
                // Ids in answers come from the model's and catalog's maps, which hold only
                // valid ids; one that is not would be left out rather than fail the answer.
                item_id: ItemId::parse(item.item_id.clone()).ok()?,
                position: u32::try_from(position).unwrap_or(u32::MAX),
                source: item.source.to_string(),
                score: item.score,
            })
        })
        .collect()
}

fn micros(took: Duration) -> u32 {
    u32::try_from(took.as_micros()).unwrap_or(u32::MAX)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `recd_impressions_dropped_total{reason}`.
fn dropped(reason: &'static str) {
    metrics::counter!("recd_impressions_dropped_total", "reason" => reason).increment(1);
}

/// How long the writer waits for more impressions after the first of a batch. Appending
/// whatever had queued meant a batch of one or two under steady traffic, an fsync each, and
/// that many syncs slowed the answers down; an impression needs no low-latency durability,
/// so waiting a little buys batches of a hundred and a sync rate that no longer depends on
/// traffic. Shutdown does not wait: the closed channel ends the wait at once.
const LINGER: Duration = Duration::from_millis(50);

/// Appends what is queued, a batch at a time, until every sender is gone and the queue empty.
fn write_loop(log: &dyn EventLog, rx: &Receiver<Impression>, batch: usize) {
    let mut records = Vec::with_capacity(batch);
    while let Ok(first) = rx.recv() {
        records.push(Record::Impression(first));
        let deadline = std::time::Instant::now() + LINGER;
        while records.len() < batch {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(next) => records.push(Record::Impression(next)),
                Err(_) => break,
            }
        }
        match log.append(&records) {
            Ok(_) => {
                metrics::counter!("recd_impressions_written_total").increment(records.len() as u64)
            }
            Err(e) => {
                // The log refuses appends for good after a failed sync: the impressions are
                // lost, the answers were not. Said once per batch, counted per impression.
                tracing::warn!(error = %e, n = records.len(), "impressions not written");
                metrics::counter!("recd_impressions_dropped_total", "reason" => "write_failed")
                    .increment(records.len() as u64);
            }
        }
        records.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use recd_store::{FileLog, LogConfig};
    use recd_types::{Shown, Surface, UserId};

    fn impression(n: u32) -> Impression {
        Impression {
            request_id: format!("r{n}"),
            at_ms: 1_700_000_000_000 + i64::from(n),
            surface: Surface::Recommendations,
            user_id: Some(UserId::parse(format!("u{n}")).unwrap()),
            item_id: None,
            experiments: vec!["exp/control".into()],
            model_version: Some("v1".into()),
            context: Some("homepage".into()),
            device: None,
            category: None,
            items: vec![Shown {
                item_id: recd_types::ItemId::parse("i1").unwrap(),
                position: 0,
                source: "als".into(),
                score: 0.5,
            }],
            cold: false,
            fallback: false,
            degraded: false,
            cached: false,
            latency_us: 900,
        }
    }

    #[test]
    fn every_impression_recorded_before_close_is_in_the_log_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn EventLog> =
            Arc::new(FileLog::open(dir.path(), LogConfig::default()).unwrap());
        let sink = LogSink::start(log.clone(), &ImpressionConfig::default()).unwrap();
        for n in 0..500 {
            sink.record(impression(n));
        }
        sink.close();
        let read: Vec<Record> = log.read_from(0).unwrap().map(|r| r.unwrap().1).collect();
        let want: Vec<Record> = (0..500)
            .map(|n| Record::Impression(impression(n)))
            .collect();
        assert_eq!(read, want);
        // After close, impressions are dropped, not queued for nobody.
        sink.record(impression(999));
        assert_eq!(log.end_offset(), 500);
    }

    #[test]
    fn a_full_queue_drops_instead_of_blocking() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        // A log whose appends wait until released stands for a writer that fell behind.
        #[derive(Default)]
        struct Stuck {
            released: AtomicBool,
            appended: AtomicUsize,
        }
        impl EventLog for Stuck {
            fn append(&self, records: &[Record]) -> Result<u64, recd_store::StoreError> {
                while !self.released.load(Ordering::Acquire) {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                self.appended.fetch_add(records.len(), Ordering::Relaxed);
                Ok(0)
            }
            fn end_offset(&self) -> u64 {
                0
            }
            fn read_from(&self, _: u64) -> Result<recd_store::LogIter<'_>, recd_store::StoreError> {
                Ok(Box::new(std::iter::empty()))
            }
        }
        let stuck = Arc::new(Stuck::default());
        let config = ImpressionConfig {
            queue: 4,
            batch: 1,
            ..Default::default()
        };
        let sink = LogSink::start(stuck.clone(), &config).unwrap();
        let started = std::time::Instant::now();
        for n in 0..1000 {
            sink.record(impression(n));
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "record() blocked"
        );
        stuck.released.store(true, Ordering::Release);
        sink.close();
        // The queue's four, the one in the writer's hands, and any it took while the loop ran.
        let appended = stuck.appended.load(Ordering::Relaxed);
        assert!((4..100).contains(&appended), "{appended} appended");
    }
}
