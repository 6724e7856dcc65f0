//! The dedupe window of `POST /v1/events`: event ids seen lately → their log offsets, so that a
//! retried event is applied once and answered with its original offset.
//!
//! Where the state lives (DECISIONS §3): with the embedded log, in this process, rebuilt at
//! start from the log's tail (the event ids are in the log records), so a restart forgets
//! nothing within the window. With a bus, several API processes ingest and a retry may reach
//! any of them: the window is the fleet's, on Redis ([`recd_bus::SharedDedupe`], same
//! protocol). [`Dedupe`] is either; routes see only it.
//!
//! Concurrency: an id is *claimed* (pending) before its batch is appended and *completed* with
//! its offset after, under one lock; a request that finds one of its ids pending waits for that
//! append to finish instead of appending it a second time. A claim that is neither completed
//! nor failed (its task ended) is released on drop.
//!
//! Bounds: entries expire `window_ms` after they were stamped (receive time; on a rebuild, the
//! event's timestamp when it lies within the window, else the rebuild time), and past
//! `max_entries` the oldest are dropped first. Memory is about 100 bytes plus the id per entry.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

mod claim;
pub use claim::Dedupe;

use recd_store::{EventLog, Offset, StoreError};
use recd_types::{Record, TimestampMs};
use tokio::sync::Notify;

/// What the window knows about one id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// A request is appending it now.
    Pending,
    /// Durable at this offset; stamped at this time.
    Done {
        offset: Offset,
        stamp_ms: TimestampMs,
    },
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Completed ids in the order they were stamped, for expiry and the cap.
    order: VecDeque<(String, TimestampMs)>,
}

/// Seen event ids and their offsets, within a time window and a size cap.
pub struct DedupeWindow {
    window_ms: i64,
    max_entries: usize,
    inner: Mutex<Inner>,
    /// Woken whenever pending ids are completed or released.
    settled: Notify,
}

/// The outcome of [`DedupeWindow::claim`] for a batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Claimed {
    /// Every id of the batch is either claimed by this call (to append) or was seen (with its
    /// offset), by position in the batch.
    Ready {
        /// Positions of the ids now claimed by the caller.
        fresh: Vec<usize>,
        /// Positions of ids already durable, with their offsets.
        seen: Vec<(usize, Offset)>,
    },
    /// Another request is appending one of these ids: nothing was claimed; wait and retry.
    Busy,
}

impl DedupeWindow {
    /// An empty window of `window_ms` holding at most `max_entries` ids (0 turns dedupe off:
    /// nothing is remembered).
    pub fn new(window_ms: i64, max_entries: usize) -> Self {
        Self {
            window_ms: window_ms.max(0),
            max_entries,
            inner: Mutex::default(),
            settled: Notify::new(),
        }
    }

    /// A window filled from the events of `log` that may lie within it (from the offset the
    /// log's time index gives for `now_ms - window_ms`), as of `now_ms`.
    pub fn rebuild(
        log: &dyn EventLog,
        window_ms: i64,
        max_entries: usize,
        now_ms: TimestampMs,
    ) -> Result<Self, StoreError> {
        let res = Self::new(window_ms, max_entries);
        if max_entries == 0 {
            return Ok(res);
        }
        let from = log.offset_for_time(now_ms.saturating_sub(res.window_ms));
        let mut found = Vec::new();
        for entry in log.read_from(from)? {
            let (offset, record) = entry?;
            let Record::Event(event) = record else {
                continue;
            };
            let Some(id) = event.event_id else { continue };
            // An event stamped outside the window was still logged after `from`: keep it a
            // whole window from now rather than dropping it at once.
            let ts = event.timestamp_ms;
            let stamp_ms = if ts <= now_ms && ts > now_ms - res.window_ms {
                ts
            } else {
                now_ms
            };
            found.push((stamp_ms, offset, id));
        }
        // Expiry walks the entries oldest first, so they go in by stamp (log order on ties,
        // so a later copy of an id wins).
        found.sort_by_key(|&(stamp_ms, offset, _)| (stamp_ms, offset));
        let mut inner = res.lock();
        for (stamp_ms, offset, id) in found {
            inner
                .entries
                .insert(id.clone(), Entry::Done { offset, stamp_ms });
            inner.order.push_back((id, stamp_ms));
        }
        res.trim(&mut inner, now_ms);
        drop(inner);
        Ok(res)
    }

    /// Number of ids remembered (pending included).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Claims the ids of a batch (`None`: an event without id, neither claimed nor seen), all
    /// or none: see [`Claimed`]. Ids must be distinct.
    pub fn claim(&self, ids: &[Option<&str>], now_ms: TimestampMs) -> Claimed {
        let mut inner = self.lock();
        self.trim(&mut inner, now_ms);
        let mut seen = Vec::new();
        let mut fresh = Vec::new();
        for (pos, id) in ids.iter().enumerate() {
            let Some(id) = id else { continue };
            match inner.entries.get(*id) {
                Some(Entry::Pending) => return Claimed::Busy,
                Some(Entry::Done { offset, .. }) => seen.push((pos, *offset)),
                None => fresh.push(pos),
            }
        }
        if self.max_entries > 0 {
            for &pos in &fresh {
                if let Some(id) = ids[pos] {
                    inner.entries.insert(id.to_string(), Entry::Pending);
                }
            }
        }
        Claimed::Ready { fresh, seen }
    }

    /// Records that the claimed `ids` are durable at `offsets` (same order), stamped `now_ms`.
    pub fn complete(&self, ids: &[&str], offsets: &[Offset], now_ms: TimestampMs) {
        if self.max_entries > 0 {
            let mut inner = self.lock();
            for (id, &offset) in ids.iter().zip(offsets) {
                inner.entries.insert(
                    id.to_string(),
                    Entry::Done {
                        offset,
                        stamp_ms: now_ms,
                    },
                );
                inner.order.push_back((id.to_string(), now_ms));
            }
            self.trim(&mut inner, now_ms);
        }
        self.settled.notify_waiters();
    }

    /// Forgets the claims on `ids` (their append failed): a retry may append them.
    pub fn release(&self, ids: &[&str]) {
        {
            let mut inner = self.lock();
            for id in ids {
                if inner.entries.get(*id) == Some(&Entry::Pending) {
                    inner.entries.remove(*id);
                }
            }
        }
        self.settled.notify_waiters();
    }

    /// Waits until some pending claim settles (or `max` passes, so a lost wake-up only delays).
    pub async fn settled(&self, max: std::time::Duration) {
        let _ = tokio::time::timeout(max, self.settled.notified()).await;
    }

    /// Drops expired entries, then the oldest ones past the cap.
    fn trim(&self, inner: &mut Inner, now_ms: TimestampMs) {
        while let Some((id, stamp_ms)) = inner.order.front() {
            let expired = stamp_ms.saturating_add(self.window_ms) < now_ms;
            if !expired && inner.order.len() <= self.max_entries {
                break;
            }
            let (id, stamp_ms) = (id.clone(), *stamp_ms);
            inner.order.pop_front();
            // The id may have been stamped again since (after an expiry): keep that one.
            if matches!(inner.entries.get(&id), Some(Entry::Done { stamp_ms: s, .. }) if *s == stamp_ms)
            {
                inner.entries.remove(&id);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests;
