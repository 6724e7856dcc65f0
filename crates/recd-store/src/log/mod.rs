//! The event log: an ordered, durable sequence of [`Record`]s addressed by offset.
//!
//! The trait is what the rest of the engine sees. The embedded [`FileLog`] is the default;
//! Kafka or Redis Streams backends will implement the same trait, which is why offsets are
//! plain `u64` positions and readers are iterators from an offset (a consumer's model).

mod file;

pub use file::{FileLog, LogConfig};

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

    /// The offset the next appended record will get (= number of records in the log).
    fn end_offset(&self) -> Offset;

    /// Reads records from `offset` (inclusive) to the end as of this call, in order.
    fn read_from(&self, offset: Offset) -> Result<LogIter<'_>, StoreError>;
}
