//! The event log: an ordered, durable sequence of [`Record`]s addressed by offset.
//!
//! The trait is what the rest of the engine sees. The embedded [`FileLog`] is the default;
//! Kafka or Redis Streams backends will implement the same trait, which is why offsets are
//! plain `u64` positions and readers are iterators from an offset (a consumer's model).

mod file;
mod pending;

pub use file::{FileLog, LogConfig, LogStats};
pub use pending::{AppendCompleter, AppendResult, PendingAppend};

use recd_types::Record;

use crate::StoreError;

/// Position of a record in the log: the first record ever appended has offset 0.
pub type Offset = u64;

/// Records read back from the log, in order, with their offsets.
pub type LogIter<'a> = Box<dyn Iterator<Item = Result<(Offset, Record), StoreError>> + Send + 'a>;

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

    /// The offset the next appended record will get (= number of records in the log).
    fn end_offset(&self) -> Offset;

    /// Reads records from `offset` (inclusive) to the end as of this call, in order.
    fn read_from(&self, offset: Offset) -> Result<LogIter<'_>, StoreError>;
}
