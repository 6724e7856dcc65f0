//! Parquet events in the schema `recd export` writes, read one record batch at a time.
//!
//! Row numbers stand in for line numbers in errors (`file:row:column`), counted from 1 across
//! the whole file.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use recd_types::Event;

use super::RecordSource;
use crate::IoError;
use crate::columnar::{self, EventColumns};

/// Rows decoded per batch: large enough to amortise decoding, small enough to bound memory.
const BATCH_ROWS: usize = 8192;

/// Runs a call into the parquet crate that decodes bytes of the file at `path`, turning a
/// panic into an error naming the file.
///
/// The parquet crate checks much of what it reads but not everything: some corrupt files make
/// it panic (a slice index or an arithmetic overflow in a decoder) where it should return an
/// error. An import must report a bad file, not abort the whole `recd import` (or a server's
/// import job) with a backtrace, so every such call goes through here. After a panic the
/// reader is not used again (`ParquetEventSource::done`), so no state the panic interrupted
/// is read. The panic hook still prints the panic: that is a bug report for the parquet crate.
fn guarded<T>(path: &Path, call: impl FnOnce() -> Result<T, IoError>) -> Result<T, IoError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(res) => res,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(IoError::parquet(
                path,
                format!(
                    "the parquet library panicked reading this file, which must be corrupt: {what}"
                ),
            ))
        }
    }
}

/// Reads events from a Parquet file.
pub(crate) struct ParquetEventSource {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    batch: Option<RecordBatch>,
    index: usize,
    row: u64,
    total_rows: u64,
    file_bytes: u64,
    done: bool,
}

impl ParquetEventSource {
    /// Opens `path` and checks its schema.
    pub fn open(path: &Path) -> Result<Self, IoError> {
        let file = File::open(path).map_err(|e| IoError::io(path, e))?;
        let file_bytes = file.metadata().map_err(|e| IoError::io(path, e))?.len();
        let (reader, total_rows) = guarded(path, || {
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
                IoError::bad_file(path, format!("not a readable Parquet file: {e}"))
            })?;
            columnar::check_schema(builder.schema()).map_err(|r| IoError::bad_file(path, r))?;
            let total_rows =
                u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
            let reader = builder
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(|e| IoError::parquet(path, e))?;
            Ok((reader, total_rows))
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            batch: None,
            index: 0,
            row: 0,
            total_rows,
            file_bytes,
            done: false,
        })
    }

    /// Makes sure a batch with an unread row is loaded; false at the end.
    fn fill(&mut self) -> Result<bool, IoError> {
        while self
            .batch
            .as_ref()
            .is_none_or(|b| self.index >= b.num_rows())
        {
            let reader = &mut self.reader;
            match guarded(&self.path, || Ok(reader.next()))? {
                Some(Ok(batch)) => {
                    self.batch = Some(batch);
                    self.index = 0;
                }
                Some(Err(e)) => return Err(IoError::parquet(&self.path, e)),
                None => return Ok(false),
            }
        }
        Ok(true)
    }
}

impl RecordSource<Event> for ParquetEventSource {
    fn next_record(&mut self) -> Option<Result<Event, IoError>> {
        if self.done {
            return None;
        }
        match self.fill() {
            Ok(true) => {}
            Ok(false) => {
                self.done = true;
                return None;
            }
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        }
        let batch = self.batch.as_ref()?;
        let i = self.index;
        self.index += 1;
        self.row += 1;
        let Some(columns) = EventColumns::new(batch) else {
            self.done = true;
            return Some(Err(IoError::bad_file(
                &self.path,
                "a record batch does not match the checked schema",
            )));
        };
        Some(
            columns
                .event(i)
                .map_err(|e| e.at(&self.path, self.row).into()),
        )
    }

    /// Parquet is columnar, so bytes are estimated from the share of rows read.
    fn bytes_read(&self) -> u64 {
        if self.total_rows == 0 {
            return 0;
        }
        (self.file_bytes as u128 * self.row as u128 / self.total_rows as u128) as u64
    }
}
