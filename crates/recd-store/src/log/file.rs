//! The embedded event log: segment files of length-prefixed, CRC-checked records.
//! (Being implemented: see the item 3.)

use std::path::Path;
use std::time::Duration;

use recd_types::Record;

use super::{EventLog, LogIter, Offset};
use crate::StoreError;

/// Settings of the embedded log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// A segment is closed and a new one started once it reaches this size.
    pub segment_bytes: u64,
    /// How long the writer waits for more appends to share one fsync.
    pub group_commit_window: Duration,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 128 << 20,
            group_commit_window: Duration::from_millis(1),
        }
    }
}

/// The embedded, file-backed event log.
pub struct FileLog {}

impl FileLog {
    /// Opens (or creates) the log in `dir`.
    pub fn open(dir: impl AsRef<Path>, config: LogConfig) -> Result<Self, StoreError> {
        let _ = (dir, config);
        unimplemented!()
    }
}

impl EventLog for FileLog {
    fn append(&self, records: &[Record]) -> Result<Offset, StoreError> {
        let _ = records;
        unimplemented!()
    }

    fn end_offset(&self) -> Offset {
        unimplemented!()
    }

    fn read_from(&self, offset: Offset) -> Result<LogIter<'_>, StoreError> {
        let _ = offset;
        unimplemented!()
    }
}
