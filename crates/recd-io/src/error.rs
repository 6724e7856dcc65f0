//! Errors of the importers, writers and exporter.
//!
//! Two kinds of blame, as everywhere in recd: the input (a bad row, a file in the wrong shape)
//! and the machine (disk, store, a Parquet library failure). A bad row is its own type,
//! [`RowError`], because the importer may count and skip it (`--skip-bad`) where every other
//! error stops the run.

use std::fmt;
use std::path::PathBuf;

/// One input row broke a rule. Displays as `file:line[:column]: field `x`: reason`, the shape
/// editors and terminals turn into a link.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    /// The input file.
    pub path: PathBuf,
    /// 1-based line of the row (for Parquet: 1-based row number).
    pub line: u64,
    /// 1-based column of the offending field, when the format has columns.
    pub column: Option<usize>,
    /// The field as the input spells it (a CSV header, a JSON key), when one field is to blame.
    pub field: Option<String>,
    /// What is wrong, in words.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)?;
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for RowError {}

/// Everything that can go wrong reading, writing, importing or exporting.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// One row of the input is bad: the input's fault. The only error `--skip-bad` skips.
    #[error(transparent)]
    BadRow(#[from] RowError),
    /// The file as a whole does not fit the format (unknown or missing columns, undecidable
    /// format, a Parquet schema that is not ours): the input's fault, and no row can be read.
    #[error("{}: {reason}", path.display())]
    BadFile {
        /// The input file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A value cannot be written in the target format without losing something (a tag with the
    /// list separator in it, say): the caller's fault, refused rather than silently changed.
    #[error("cannot write field `{field}`: {reason}")]
    Unrepresentable {
        /// The field as the format spells it.
        field: &'static str,
        /// Why it cannot be written.
        reason: String,
    },
    /// A file or directory could not be read, written or created: the machine's fault.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Writing to a caller-supplied writer failed: the machine's (or the caller's writer's) fault.
    #[error("writing: {0}")]
    Write(std::io::Error),
    /// The store refused or failed a write. Rows are validated before they reach the store,
    /// so this is a storage failure, not an input problem.
    #[error(transparent)]
    Store(#[from] recd_store::StoreError),
    /// The store refused a batch whose rows had all passed our validation: the two disagree,
    /// which is a bug here, not a problem with the input.
    #[error("the store refused a batch that passed validation: {0}")]
    StoreRefused(String),
    /// A destination other than the local store (a running server, which the `recd` binary
    /// reaches over HTTP) refused or failed a batch. `refused` is true when it judged the
    /// records themselves (an HTTP 4xx): the input's fault; otherwise the machine's or the
    /// network's.
    #[error("{}", if *refused { "the destination refused the batch" } else { "the destination failed" })]
    Remote {
        /// Whether the destination judged the records (rather than failing itself).
        refused: bool,
        /// What the destination said, or why it could not be reached.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Writing one batch of an import failed; `source` says why. Names the batch so that the
    /// user knows how much of the file was written before it (all the batches before it).
    #[error(
        "{}: batch {batch} (records {first} to {last}; the {} before it were imported)",
        path.display(),
        first - 1
    )]
    Batch {
        /// The input file.
        path: PathBuf,
        /// 1-based number of the batch in the file.
        batch: u64,
        /// 1-based number of the batch's first record among the file's good records.
        first: u64,
        /// 1-based number of its last record.
        last: u64,
        /// Why the batch was not written.
        source: Box<IoError>,
    },
    /// The Parquet or Arrow library failed on a file we write or read.
    #[error("{}: parquet: {reason}", path.display())]
    Parquet {
        /// The file involved.
        path: PathBuf,
        /// The library's message.
        reason: String,
    },
}

impl IoError {
    /// Wraps an OS error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IoError::Io {
            path: path.into(),
            source,
        }
    }

    /// Builds a whole-file error.
    pub fn bad_file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        IoError::BadFile {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Wraps a Parquet or Arrow library error with the file it happened on.
    pub(crate) fn parquet(path: impl Into<PathBuf>, err: impl fmt::Display) -> Self {
        IoError::Parquet {
            path: path.into(),
            reason: err.to_string(),
        }
    }

    /// True for the input's fault (bad row or bad file), false for the machine's.
    pub fn is_input_error(&self) -> bool {
        match self {
            IoError::BadRow(_) | IoError::BadFile { .. } | IoError::Unrepresentable { .. } => true,
            IoError::Remote { refused, .. } => *refused,
            IoError::Batch { source, .. } => source.is_input_error(),
            IoError::Io { .. }
            | IoError::Write(_)
            | IoError::Store(_)
            | IoError::StoreRefused(_)
            | IoError::Parquet { .. } => false,
        }
    }
}

impl From<recd_store::AppendError> for IoError {
    fn from(err: recd_store::AppendError) -> Self {
        match err {
            // Rows are validated one by one before a batch is handed to the store, so the store
            // refusing one means our validation and the store's disagree: report it loudly as
            // a store error with the store's message rather than blaming the input file.
            recd_store::AppendError::Invalid { index, source } => {
                IoError::StoreRefused(format!("entry {index}: {source}"))
            }
            recd_store::AppendError::Store(e) => IoError::Store(e),
        }
    }
}

/// A problem with one field of a row, before the reader adds file and line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldError {
    /// The field as the input spells it, if one field is to blame.
    pub field: Option<String>,
    /// 1-based column, if known.
    pub column: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl FieldError {
    /// An error about the whole row (wrong field count, not JSON, ...).
    pub fn row(reason: impl Into<String>) -> Self {
        Self {
            field: None,
            column: None,
            reason: reason.into(),
        }
    }

    /// An error about one named field.
    pub fn field(
        field: impl Into<String>,
        column: Option<usize>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            field: Some(field.into()),
            column,
            reason: reason.into(),
        }
    }

    /// Adds the file and line.
    pub fn at(self, path: &std::path::Path, line: u64) -> RowError {
        RowError {
            path: path.to_path_buf(),
            line,
            column: self.column,
            field: self.field,
            reason: self.reason,
        }
    }
}
