//! Errors of the storage layer.

use std::path::PathBuf;

/// What can go wrong in the store. Who is to blame decides the variant.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The caller passed a value that breaks a domain rule: the caller's fault, report as 4xx.
    #[error(transparent)]
    Invalid(#[from] recd_types::ValidationError),
    /// The caller asked for an offset the log does not have: the caller's fault.
    #[error("offset {requested} is past the end of the log ({end})")]
    OffsetOutOfRange {
        /// The offset asked for.
        requested: u64,
        /// The log's end offset.
        end: u64,
    },
    /// The disk failed us (full, read-only, gone): the operator must act.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Data on disk is damaged in a way recovery cannot repair (not a torn tail, which is
    /// truncated on open): the operator must act.
    #[error("corrupt data in {path}: {reason}")]
    Corrupt {
        /// The file involved.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// The catalog database failed.
    #[error("catalog database: {0}")]
    Catalog(String),
    /// The handle is read-only (a reader beside another process's writer): the caller's
    /// mistake, since only the writer appends.
    #[error(
        "the event log in {0} is open read-only; appends go through the process that writes it"
    )]
    ReadOnly(PathBuf),
    /// The log's writer has stopped after an earlier failure; nothing more can be acknowledged.
    #[error("the event log is closed: {0}")]
    Closed(String),
}

impl StoreError {
    /// Wraps an IO error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}
