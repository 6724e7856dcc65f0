//! Errors of the training library.

/// What can go wrong while training: the caller's input or parameters ([`TrainError::Invalid`],
/// [`TrainError::Model`], [`TrainError::ExternalAls`]), or the job's IO: reading the event log and catalog
/// ([`TrainError::Store`]) and writing the model version's files ([`TrainError::Io`]).
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A parameter or input value is outside its domain (non-finite value, zero factors, an
    /// index past the declared shape): the caller's input.
    #[error("field `{field}`: {reason}")]
    Invalid {
        /// The parameter or field, as users spell it (`factors`, `value`, `item_idx`, ...).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The model library rejected a shape or parameter; with validated input this means the
    /// trainer combined pieces wrongly, so it is reported with the library's own words.
    #[error(transparent)]
    Model(#[from] recd_model::ModelError),
    /// ALS factors given to the run (`recd train --als-from`) do not fit it: another rank,
    /// or fitted on another matrix than this training's. The caller's input.
    #[error("the given ALS factors do not fit this training: {0}")]
    ExternalAls(String),
    /// Reading the event log or catalog failed.
    #[error(transparent)]
    Store(#[from] recd_store::StoreError),
    /// Writing a model file failed: the operator must act (disk full, permissions).
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl TrainError {
    /// Wraps an IO error with its path.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Builds an [`TrainError::Invalid`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        TrainError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
