//! The writer thread: group commit over the active segment.
//!
//! One thread owns the active segment file. Appenders encode their frames on their own
//! thread and queue them here; the writer takes everything queued (optionally waiting up to the
//! group-commit window for more), writes it with one `write` call, syncs once, publishes the
//! new end for readers, and then acknowledges every append in the group. One fdatasync costs
//! about the same whatever the batch size, so sharing it is what makes throughput.
//!
//! A failed write or sync stops the writer for good: after a failed fsync the kernel may have
//! dropped the dirty pages and cleared the error ("fsyncgate"), so nothing written since the
//! last good sync can be trusted to be on disk, and acknowledging anything later would be a
//! lie. The failed group gets the I/O error, later appends get [`StoreError::Closed`], and the
//! next open recovers the file from what is actually on disk.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::super::{AppendCompleter, Offset};
use super::damage::DamageLog;
use super::durable::{Durable, Publisher};
use super::frame::{self, HEADER_LEN};
use super::index::IndexBuilder;
use super::reader::View;
use super::segment::{self, Segment};
use super::{catalog, times};
use crate::StoreError;
use recd_types::TimestampMs;

/// One queued append: its frames, already encoded, and where to send the acknowledgement.
pub(super) struct Request {
    pub frames: Vec<u8>,
    pub n_records: u64,
    /// The smallest and largest timestamp of its events (`None` without events).
    pub times: Option<(TimestampMs, TimestampMs)>,
    /// Positions in the batch of its catalog records (empty for a batch of events).
    pub catalog: Vec<u32>,
    pub ack: AppendCompleter,
}

/// State shared by the log handle, its readers and the writer thread.
pub(super) struct Shared {
    view: Mutex<View>,
    /// Damage found by this handle's readers and by recovery.
    pub damage: Arc<DamageLog>,
    /// Why the writer stopped, once it has.
    failure: Mutex<Option<String>>,
    pub n_syncs: AtomicU64,
    pub n_groups: AtomicU64,
    pub n_bytes_written: AtomicU64,
    /// Segments below this offset were compacted away: the writer drops them from its list
    /// at its next publish. Changed and read under the `view` lock.
    start: AtomicU64,
}

/// Locks `m`, going on if another thread panicked while holding it: every critical section
/// here replaces whole values, so the data is consistent even then.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(view: View, damage: Arc<DamageLog>) -> Self {
        Self {
            view: Mutex::new(view),
            damage,
            failure: Mutex::new(None),
            n_syncs: AtomicU64::new(0),
            n_groups: AtomicU64::new(0),
            n_bytes_written: AtomicU64::new(0),
            start: AtomicU64::new(0),
        }
    }

    /// Stops handing out the segments below `start` (compaction is about to delete them):
    /// new readers no longer see them, and the writer forgets them at its next publish.
    pub fn forget_before(&self, start: Offset) {
        let mut view = lock(&self.view);
        self.start.store(start, Ordering::Relaxed);
        let kept: Vec<Segment> = view
            .segments
            .iter()
            .filter(|s| s.base >= start)
            .cloned()
            .collect();
        view.segments = Arc::new(kept);
    }

    /// A consistent snapshot for a reader.
    pub fn view(&self) -> View {
        lock(&self.view).clone()
    }

    /// The durable end offset.
    pub fn end(&self) -> Offset {
        lock(&self.view).end
    }

    /// Why the writer stopped, if it has.
    pub fn failure(&self) -> Option<String> {
        lock(&self.failure).clone()
    }
}

/// The writer thread's state: the active segment and where it ends.
pub(super) struct Writer {
    pub dir: PathBuf,
    pub segment_bytes: u64,
    pub window: Duration,
    pub shared: Arc<Shared>,
    pub segments: Vec<Segment>,
    pub file: File,
    /// Bytes in the active segment (durable; `buf` holds what is about to be written).
    pub seg_len: u64,
    /// Offset of the next record to be written.
    pub next: Offset,
    /// Index entries of the active segment not yet published (their frames are not synced).
    pub index: IndexBuilder,
    /// Where the durable end is published for readers in other processes.
    pub durable: Publisher,
    /// Time range of the events in the active segment, when the writer has seen all of its
    /// records (it created the segment); `None` inside means none yet.
    pub seg_times: Option<Option<(TimestampMs, TimestampMs)>>,
    /// Copies of the active segment's catalog frames, for its sidecar (see `catalog`), when
    /// the writer has seen all of its records. At most the segment's size, and only that
    /// when a segment is all catalog (an import of items).
    pub seg_catalog: Option<Vec<u8>>,
    /// Set once publishing the durable end failed (logged once; appends go on, since the
    /// records are durable and readers only lag).
    pub publish_failed: bool,
}

/// A write or sync failure, with the file it happened on.
struct Failure {
    path: PathBuf,
    error: io::Error,
}

impl Writer {
    /// Runs until every handle to the queue is gone (then it drains what is left and returns)
    /// or a write fails.
    pub fn run(mut self, queue: Receiver<Request>) {
        let mut group = Vec::new();
        let mut buf = Vec::new();
        while let Ok(first) = queue.recv() {
            group.push(first);
            self.gather(&queue, &mut group);
            if let Err(failure) = self.commit(&mut group, &mut buf) {
                self.stop(failure, &mut group);
                // Dropping the queue resolves everything still in it to `Closed` (see
                // `AppendCompleter`'s `Drop`) and makes later sends fail.
                return;
            }
        }
    }

    /// Adds everything already queued, then waits up to the window for more.
    fn gather(&self, queue: &Receiver<Request>, group: &mut Vec<Request>) {
        group.extend(queue.try_iter());
        if self.window.is_zero() {
            return;
        }
        let deadline = Instant::now() + self.window;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match queue.recv_timeout(left) {
                Ok(request) => {
                    group.push(request);
                    group.extend(queue.try_iter());
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Writes and syncs the group, rolling segments as needed, and acknowledges it. On
    /// failure, the appends already synced (before a roll) are acknowledged anyway, since
    /// they are durable, and the rest are left in `group`.
    fn commit(&mut self, group: &mut Vec<Request>, buf: &mut Vec<u8>) -> Result<(), Failure> {
        let mut firsts = Vec::with_capacity(group.len());
        let mut n_synced = 0;
        let result = self.write_group(group, buf, &mut firsts, &mut n_synced);
        for (request, first) in group.drain(..n_synced).zip(firsts) {
            request.ack.complete(Ok(first));
        }
        result
    }

    /// The work of `commit`: fills `firsts` with each request's first offset and
    /// `n_synced` with how many requests (from the start) are durable.
    fn write_group(
        &mut self,
        group: &[Request],
        buf: &mut Vec<u8>,
        firsts: &mut Vec<Offset>,
        n_synced: &mut usize,
    ) -> Result<(), Failure> {
        buf.clear();
        let mut n_buffered = 0;
        for (i, request) in group.iter().enumerate() {
            let has_records = self.seg_len + buf.len() as u64 > HEADER_LEN;
            let len_after = self.seg_len + (buf.len() + request.frames.len()) as u64;
            if has_records && len_after > self.segment_bytes {
                self.write_and_sync(buf, n_buffered)?;
                *n_synced = i;
                n_buffered = 0;
                self.roll()?;
            }
            let first = self.next + n_buffered;
            self.index.frame(first, self.seg_len + buf.len() as u64);
            firsts.push(first);
            let start = buf.len();
            buf.extend_from_slice(&request.frames);
            frame::stamp_frames(&mut buf[start..], first);
            if let (Some(range), Some(batch)) = (&mut self.seg_times, request.times) {
                *range = times::merge(*range, batch);
            }
            if let Some(copies) = &mut self.seg_catalog
                && !request.catalog.is_empty()
            {
                frame::copy_frames(&buf[start..], &request.catalog, copies);
            }
            n_buffered += request.n_records;
        }
        self.write_and_sync(buf, n_buffered)?;
        *n_synced = group.len();
        Ok(())
    }

    /// Writes `buf` to the active segment, syncs it, and publishes the new end.
    fn write_and_sync(&mut self, buf: &mut Vec<u8>, n_records: u64) -> Result<(), Failure> {
        if buf.is_empty() {
            return Ok(());
        }
        let path = &self.segments[self.segments.len() - 1].path;
        let fail = |error| Failure {
            path: path.clone(),
            error,
        };
        self.file.write_all(buf).map_err(fail)?;
        // fdatasync, not fsync: it still flushes the file size (needed to read the data back)
        // but skips timestamps.
        self.file.sync_data().map_err(fail)?;
        self.shared.n_syncs.fetch_add(1, Ordering::Relaxed);
        self.shared.n_groups.fetch_add(1, Ordering::Relaxed);
        self.shared
            .n_bytes_written
            .fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.seg_len += buf.len() as u64;
        self.next += n_records;
        buf.clear();
        let entries = self.index.take();
        self.active().index.extend(&entries, self.seg_len);
        self.publish();
        Ok(())
    }

    /// Starts a new segment at the current end. The old one is already synced.
    fn roll(&mut self) -> Result<(), Failure> {
        if let Some(range) = self.seg_times {
            times::write(&self.active().path, range.unwrap_or(times::NO_EVENTS));
        }
        if let Some(copies) = self.seg_catalog.take() {
            let active = self.active();
            let path = catalog::sidecar_path(&active.path);
            // Without it readers walk the segment: slower, never wrong.
            if let Err(error) = catalog::write_file(&path, active.base, &copies) {
                tracing::warn!(path = %path.display(), %error, "cannot write the segment's catalog sidecar; readers will walk the segment");
            }
        }
        let (segment, file) =
            segment::create_segment(&self.dir, self.next).map_err(|e| match e {
                StoreError::Io { path, source } => Failure {
                    path,
                    error: source,
                },
                other => Failure {
                    path: self.dir.clone(),
                    error: io::Error::other(other.to_string()),
                },
            })?;
        // Header sync + directory sync.
        self.shared.n_syncs.fetch_add(2, Ordering::Relaxed);
        self.index = IndexBuilder::after(segment.index.last());
        self.segments.push(segment);
        self.file = file;
        self.seg_len = HEADER_LEN;
        self.seg_times = Some(None);
        self.seg_catalog = Some(Vec::new());
        self.publish();
        Ok(())
    }

    fn active(&self) -> &Segment {
        // `FileLog::open` always starts the writer with at least one segment.
        &self.segments[self.segments.len() - 1]
    }

    /// Makes what is synced visible: to readers of this handle, then to other processes.
    pub fn publish(&mut self) {
        {
            let mut view = lock(&self.shared.view);
            let start = self.shared.start.load(Ordering::Relaxed);
            // Never the active segment: compaction only takes closed ones.
            if self.segments.len() > 1 && self.segments[0].base < start {
                let active = self.segments.len() - 1;
                let mut i = 0;
                self.segments.retain(|s| {
                    i += 1;
                    s.base >= start || i - 1 == active
                });
            }
            if view.segments.len() != self.segments.len() {
                view.segments = Arc::new(self.segments.clone());
            }
            view.end = self.next;
            view.last_len = self.seg_len;
        }
        let durable = Durable {
            end: self.next,
            last_base: self.active().base,
            last_len: self.seg_len,
        };
        if let Err(error) = self.durable.publish(&durable)
            && !self.publish_failed
        {
            self.publish_failed = true;
            tracing::error!(dir = %self.dir.display(), %error, "cannot publish the log's durable end; readers in other processes will lag");
        }
    }

    /// Records the failure, fails the unacknowledged part of the group with it.
    fn stop(&self, failure: Failure, group: &mut Vec<Request>) {
        let reason = format!(
            "writing {} failed: {}; appends are refused until the log is reopened",
            failure.path.display(),
            failure.error
        );
        tracing::error!(path = %failure.path.display(), error = %failure.error, "event log write failed; refusing further appends");
        *lock(&self.shared.failure) = Some(reason);
        for request in group.drain(..) {
            let error = StoreError::Io {
                path: failure.path.clone(),
                source: io::Error::new(failure.error.kind(), failure.error.to_string()),
            };
            request.ack.complete(Err(error));
        }
    }
}
