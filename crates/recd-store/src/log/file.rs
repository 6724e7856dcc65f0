//! `FileLog`: the embedded event log, append-only segment files under one directory.
//!
//! Layout and format are in `frame` (header and frames) and `segment` (names, recovery);
//! group commit is in `writer`, reading in `reader`. This file ties them together behind the
//! [`EventLog`] trait: appends are encoded here on the caller's thread and handed to the writer
//! thread; reads take a snapshot of what is durable and iterate it.

mod catalog;
mod compact;
mod damage;
mod durable;
pub(crate) mod frame;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod index;
mod read_only;
mod reader;
mod repair;
mod schema_v1;
mod segment;
mod times;
mod walk;
mod writer;

pub use catalog::CatalogReadStats;
pub use compact::{CompactOptions, CompactReport, SegmentSpan, compact};
pub use read_only::ReadOnlyLog;
pub use repair::{RepairReport, VerifyReport, repair, verify};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use recd_types::Record;

use super::{EventLog, LogDamage, LogIter, Offset, PendingAppend};
use crate::StoreError;
use damage::{DamageLog, QUARANTINE_DIR};
use frame::{EncodeError, Format, HEADER_LEN};
use reader::{Reader, View};
use writer::{Request, Shared, Writer};

/// The lock file in the log directory (see `lock_dir`).
const LOCK_FILE: &str = "LOCK";

/// Settings of the embedded log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// A segment is closed and a new one started once the next append would take it past this
    /// size. A single append larger than this gets a segment of its own.
    pub segment_bytes: u64,
    /// How long the writer waits for more appends to share one fsync. Zero means it syncs as
    /// soon as it has something, batching only what queued up during the previous sync.
    pub group_commit_window: Duration,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 128 << 20,
            // Measured with the `log_append` bench (closed loop, 40k records, windows of 0,
            // 50, 100, 200, 300 and 1000 µs, two repetitions; the disk was shared with other
            // builds, so throughput varied a lot between repetitions). 1 ms was slower than
            // 0 in every shape: the writer idles longer than a sync takes. 100 µs cut the
            // number of syncs against 0 in every shape, because appenders woken by the
            // previous ack get to queue again first; its throughput was within the noise of 0
            // or better. Fewer syncs is what counts on a busy disk.
            group_commit_window: Duration::from_micros(100),
        }
    }
}

/// Counters of the log's writer since open, for benchmarks and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// fsync/fdatasync calls (one per group commit, two more per new segment).
    pub n_syncs: u64,
    /// Group commits: each acknowledged one or more appends with one sync.
    pub n_groups: u64,
    /// Bytes written to segment files (frames only, not headers).
    pub n_bytes_written: u64,
}

/// The embedded, file-backed event log. Cheap to share: wrap it in an `Arc`.
///
/// Dropping it stops the writer thread after it has written everything already queued.
pub struct FileLog {
    dir: PathBuf,
    shared: Arc<Shared>,
    /// Queue to the writer (`Sender` is `Sync`: appenders send through a shared reference).
    /// An `Option` so that `Drop` can close it before joining the writer.
    queue: Option<Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    /// Holds the directory's exclusive lock until the handle is gone (released in
    /// `Drop::drop` after the writer is joined).
    lock: File,
    /// One compaction at a time.
    compacting: std::sync::Mutex<()>,
}

impl FileLog {
    /// Opens (or creates) the log in `dir` for writing; one writer per directory.
    ///
    /// Recovers the last segment first: a torn tail past the published durable end (left by
    /// a crash in the middle of a write, never acknowledged) is reported with a warning and
    /// truncated; damage to acknowledged bytes is kept, walked around, reported and
    /// quarantined (see [`EventLog::damage`]). A last segment of an older format is closed and
    /// appends go to a new one.
    pub fn open(dir: impl AsRef<Path>, config: LogConfig) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        create_dir_durably(&dir)?;
        let lock = lock_dir(&dir)?;
        let mut segments = segment::list_segments(&dir)?;
        // Compaction deletes the oldest segments after writing their catalog records to the
        // snapshot, whose base says where the log may start; a first segment after it means
        // records are missing.
        let compacted = catalog::snapshot_base(&dir)?;
        if let Some(first) = segments.first()
            && first.base > compacted
        {
            return Err(StoreError::Corrupt {
                path: first.path.clone(),
                reason: format!(
                    "the first segment starts at offset {}; the segments before it are missing{}",
                    first.base,
                    if compacted > 0 {
                        format!(" (compaction removed those before offset {compacted})")
                    } else {
                        String::new()
                    }
                ),
            });
        }
        let durable = durable::read(&dir);
        if let (Some(d), Some(last)) = (durable, segments.last())
            && d.last_base > last.base
        {
            return Err(StoreError::Corrupt {
                path: dir.join(durable::DURABLE_FILE),
                reason: format!(
                    "records up to offset {} were acknowledged in a segment starting at {}, which is missing",
                    d.end, d.last_base
                ),
            });
        }
        let damage = Arc::new(DamageLog::new(Some(dir.join(QUARANTINE_DIR))));
        // Whether the writer will have seen every record of the active segment.
        let mut fresh = true;
        let (file, seg_len, end) = match segments.last() {
            Some(last) => {
                let last_base = last.base;
                let recovered = segment::recover_last(last, durable)?;
                for damaged in &recovered.damage {
                    damage.report(&last.path, damaged);
                }
                if recovered.format == Format::CURRENT {
                    fresh = recovered.len == HEADER_LEN;
                    (recovered.file, recovered.len, recovered.next)
                } else if recovered.next == last.base {
                    // An old-format segment with no record: nothing to keep, and the new one
                    // takes its name.
                    drop(recovered.file);
                    std::fs::remove_file(&last.path).map_err(|e| StoreError::io(&last.path, e))?;
                    segments.pop();
                    let (segment, file) = segment::create_segment(&dir, last_base)?;
                    segments.push(segment);
                    (file, HEADER_LEN, last_base)
                } else {
                    // Frames are never mixed in one segment: the old one is closed as it
                    // is (synced when it was written) and appends start a new one.
                    let (segment, file) = segment::create_segment(&dir, recovered.next)?;
                    segments.push(segment);
                    (file, HEADER_LEN, recovered.next)
                }
            }
            None => {
                let (segment, file) = segment::create_segment(&dir, 0)?;
                segments.push(segment);
                (file, HEADER_LEN, 0)
            }
        };
        let shared = Arc::new(Shared::new(
            View {
                segments: Arc::new(segments.clone()),
                end,
                last_len: seg_len,
            },
            damage,
        ));
        let index = index::IndexBuilder::after(segments[segments.len() - 1].index.last());
        let publisher = durable::Publisher::open(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let mut writer = Writer {
            dir: dir.clone(),
            segment_bytes: config.segment_bytes,
            window: config.group_commit_window,
            shared: shared.clone(),
            segments,
            file,
            seg_len,
            next: end,
            index,
            durable: publisher,
            seg_times: fresh.then_some(None),
            seg_catalog: fresh.then(Vec::new),
            publish_failed: false,
        };
        writer.publish();
        let (queue, requests) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("recd-log-writer".into())
            .spawn(move || writer.run(requests))
            .map_err(|e| StoreError::io(&dir, e))?;
        tracing::debug!(dir = %dir.display(), end_offset = end, "event log opened");
        Ok(Self {
            dir,
            shared,
            queue: Some(queue),
            writer: Some(handle),
            lock,
            compacting: std::sync::Mutex::new(()),
        })
    }

    /// Deletes the oldest closed segments that `options` allows, beside the running writer
    /// (see `compact` for how readers are kept safe). Appends go on meanwhile.
    pub fn compact(&self, options: &CompactOptions<'_>) -> Result<CompactReport, StoreError> {
        let _one = self.compacting.lock().unwrap_or_else(|e| e.into_inner());
        let view = self.shared.view();
        compact::compact_segments(&self.dir, &view.segments, options, |start| {
            self.shared.forget_before(start)
        })
    }

    /// Where the log starts: the first offset not compacted away (0 if nothing was).
    pub fn start_offset(&self) -> Offset {
        self.shared.view().segments.first().map_or(0, |s| s.base)
    }

    /// Bytes of the log's segment files, as the writer lists them.
    pub fn size_bytes(&self) -> u64 {
        let view = self.shared.view();
        let closed: u64 = view.segments[..view.segments.len().saturating_sub(1)]
            .iter()
            .map(|s| std::fs::metadata(&s.path).map_or(0, |m| m.len()))
            .sum();
        closed + view.last_len
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The catalog records below `end` (see [`EventLog::read_catalog`]), and how they were
    /// found.
    pub fn catalog(
        &self,
        end: Offset,
    ) -> Result<(Vec<(Offset, Record)>, CatalogReadStats), StoreError> {
        catalog::read(&self.dir, &self.shared.view(), end, &self.shared.damage)
    }

    /// Counters of the writer since open.
    pub fn stats(&self) -> LogStats {
        use std::sync::atomic::Ordering::Relaxed;
        LogStats {
            n_syncs: self.shared.n_syncs.load(Relaxed),
            n_groups: self.shared.n_groups.load(Relaxed),
            n_bytes_written: self.shared.n_bytes_written.load(Relaxed),
        }
    }

    fn closed(&self) -> StoreError {
        StoreError::Closed(
            self.shared
                .failure()
                .unwrap_or_else(|| "the log writer has stopped".into()),
        )
    }

    fn encode(&self, records: &[Record]) -> Result<Vec<u8>, StoreError> {
        let mut frames = Vec::with_capacity(records.len() * 128);
        frame::encode_records(records, &mut frames).map_err(|e| match e {
            EncodeError::TooLarge(invalid) => StoreError::Invalid(invalid),
            EncodeError::Postcard { index, reason } => StoreError::io(
                &self.dir,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("cannot encode entry {index}: {reason}"),
                ),
            ),
        })?;
        Ok(frames)
    }
}

/// Takes an exclusive advisory lock (flock) on `dir/LOCK`. Two writers appending to the same
/// segment would interleave frames and corrupt each other, e.g. `recd import` run against
/// the data dir of a running server; the second one gets a clear error instead. The kernel
/// drops the lock when the process dies, so a crash never leaves the log locked.
fn lock_dir(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::io(
            &path,
            std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "the event log is already open for writing (another recd process, or another handle in this one)",
            ),
        )),
        Err(TryLockError::Error(e)) => Err(StoreError::io(&path, e)),
    }
}

/// Creates `dir` if needed; when it is new, syncs its parent so the directory itself survives
/// a crash along with the segment we are about to create in it.
fn create_dir_durably(dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => segment::sync_dir(parent),
        _ => segment::sync_dir(Path::new(".")),
    }
}

impl EventLog for FileLog {
    fn append(&self, records: &[Record]) -> Result<Offset, StoreError> {
        self.append_async(records).wait()
    }

    fn append_async(&self, records: &[Record]) -> PendingAppend {
        if let Some(reason) = self.shared.failure() {
            return PendingAppend::ready(Err(StoreError::Closed(reason)));
        }
        if records.is_empty() {
            // Nothing to make durable; the offset the first record would have had.
            return PendingAppend::ready(Ok(self.end_offset()));
        }
        let frames = match self.encode(records) {
            Ok(frames) => frames,
            Err(e) => return PendingAppend::ready(Err(e)),
        };
        let Some(queue) = &self.queue else {
            return PendingAppend::ready(Err(self.closed()));
        };
        let (ack, pending) = PendingAppend::channel();
        // Times of events and impressions only: consumers that skip old segments want those,
        // and the catalog records are read apart from them (`read_catalog`), however old or
        // new they are.
        let stamps = records.iter().filter_map(times::of);
        let times = stamps.clone().min().zip(stamps.max());
        let catalog = records
            .iter()
            .enumerate()
            .filter(|(_, r)| catalog::is_catalog(r))
            .map(|(i, _)| i as u32)
            .collect();
        let request = Request {
            frames,
            n_records: records.len() as u64,
            times,
            catalog,
            ack,
        };
        // A failed send drops the request, whose completer then resolves `pending` to Closed;
        // we answer with the writer's reason instead, which says why.
        match queue.send(request) {
            Ok(()) => pending,
            Err(_) => PendingAppend::ready(Err(self.closed())),
        }
    }

    fn end_offset(&self) -> Offset {
        self.shared.end()
    }

    fn failure(&self) -> Option<String> {
        self.shared.failure()
    }

    fn read_from(&self, offset: Offset) -> Result<LogIter<'_>, StoreError> {
        let view = self.shared.view();
        if offset > view.end {
            return Err(StoreError::OffsetOutOfRange {
                requested: offset,
                end: view.end,
            });
        }
        Ok(Box::new(Reader::new(
            view,
            offset,
            self.shared.damage.clone(),
        )))
    }

    fn damage(&self) -> Vec<LogDamage> {
        self.shared.damage.list()
    }

    fn offset_for_time(&self, ms: recd_types::TimestampMs) -> Offset {
        times::offset_for_time(&self.shared.view().segments, ms)
    }

    fn read_catalog(&self, end: Offset) -> Result<LogIter<'_>, StoreError> {
        let (records, _) = self.catalog(end)?;
        Ok(Box::new(records.into_iter().map(Ok)))
    }
}

impl Drop for FileLog {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued and return.
        self.queue.take();
        if let Some(handle) = self.writer.take()
            && handle.join().is_err()
        {
            tracing::error!(dir = %self.dir.display(), "the event log writer thread panicked");
        }
        // Unlock explicitly rather than by closing the file: a child process spawned by any
        // thread of this process holds a copy of the descriptor until it execs, and with it
        // the flock, so a log reopened right after the drop could find itself locked out.
        let _ = self.lock.unlock();
    }
}
