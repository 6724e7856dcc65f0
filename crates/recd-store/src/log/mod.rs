//! The event log: an ordered, durable sequence of [`Record`]s addressed by offset.
//!
//! The trait is what the rest of the engine sees. The embedded [`FileLog`] is the default;
//! Kafka or Redis Streams backends will implement the same trait, which is why offsets are
//! plain `u64` positions and readers are iterators from an offset (a consumer's model).

mod file;
mod pending;

/// The file log's frame module, for the record codec beside it.
pub(crate) use file::frame as file_frame;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use file::fuzzing;
pub use file::{
    CatalogReadStats, CompactOptions, CompactReport, FileLog, LogConfig, LogStats, ReadOnlyLog,
    RepairReport, SegmentSpan, VerifyReport, compact, repair, verify,
};
pub use pending::{AppendCompleter, AppendResult, PendingAppend};

use std::path::PathBuf;

use recd_types::Record;

use crate::StoreError;

/// Position of a record in the log: the first record ever appended has offset 0.
pub type Offset = u64;

/// Records read back from the log, in order, with their offsets.
pub type LogIter<'a> = Box<dyn Iterator<Item = Result<(Offset, Record), StoreError>> + Send + 'a>;

/// Damaged bytes found in the log: records lost at known offsets (a gap; the records after
/// keep theirs).
#[derive(Debug, Clone, PartialEq)]
pub struct LogDamage {
    /// The segment file.
    pub segment: PathBuf,
    /// Byte range of the damage in the segment.
    pub byte_start: u64,
    /// End of the byte range (exclusive).
    pub byte_end: u64,
    /// The first offset lost.
    pub first_lost: Offset,
    /// How many records were lost (at most those whose frames overlap the damage).
    pub n_lost: u64,
    /// False when the count is an estimate: damage to the length of a frame written by an
    /// older build (frames without offsets) hides how many frames it spanned.
    pub exact: bool,
    /// What was wrong.
    pub reason: String,
    /// Where the writer copied the damaged bytes, if it has.
    pub quarantined: Option<PathBuf>,
}

/// An append-only, durable, ordered log of records.
pub trait EventLog: Send + Sync {
    /// Appends `records` as one batch and returns the offset of the first one.
    ///
    /// Returns only after the records are durable (fsync'd, or acknowledged by the broker).
    /// Concurrent callers share one sync (group commit). Records of one call are contiguous.
    fn append(&self, records: &[Record]) -> Result<Offset, StoreError>;

    /// Starts appending `records` as one batch and returns a handle that resolves once they
    /// are durable, to the same result [`EventLog::append`] would return.
    ///
    /// The handle can be `.await`ed (it is a plain `Future`, no runtime needed) or waited on
    /// with [`PendingAppend::wait`]. Async callers should prefer this to `append`, which
    /// blocks the thread for the length of a sync.
    ///
    /// The default implementation performs the blocking `append` inside this call and returns
    /// a resolved handle: correct, but it blocks; backends that queue writes override it
    /// ([`FileLog`] does, so it never blocks the caller).
    fn append_async(&self, records: &[Record]) -> PendingAppend {
        PendingAppend::ready(self.append(records))
    }

    /// Why the log refuses appends, once it does (a failed sync closes it for good); `None`
    /// while it accepts them.
    fn failure(&self) -> Option<String> {
        None
    }

    /// The offset the next appended record will get: one past the last durable record.
    fn end_offset(&self) -> Offset;

    /// Reads records from `offset` (inclusive) to the end as of this call, in order of
    /// offset. Offsets can skip: records lost to damage leave a gap (reported by
    /// [`EventLog::damage`]), and nothing after them is renumbered.
    fn read_from(&self, offset: Offset) -> Result<LogIter<'_>, StoreError>;

    /// The catalog records (item and user records, user tombstones) with offsets below `end`,
    /// in offset order, including those of segments deleted by compaction (at least the
    /// newest record of each item and user there). Backends that keep them apart from the
    /// events read them without the events; this default reads the whole log.
    fn read_catalog(&self, end: Offset) -> Result<LogIter<'_>, StoreError> {
        Ok(Box::new(
            self.read_from(0)?
                .take_while(move |r| r.as_ref().map_or(true, |(o, _)| *o < end))
                .filter(|r| r.as_ref().map_or(true, |(_, record)| record.is_catalog())),
        ))
    }

    /// An offset from which every record with a timestamp at or after `ms` is read: records
    /// before it are all older (0 when the log cannot tell). Lets a consumer that only needs
    /// recent records skip the rest.
    fn offset_for_time(&self, ms: recd_types::TimestampMs) -> Offset {
        let _ = ms;
        0
    }

    /// Damage that reads through this handle have found so far (the writer also walks the
    /// last segment on open). Empty for a healthy log.
    fn damage(&self) -> Vec<LogDamage> {
        Vec::new()
    }
}
