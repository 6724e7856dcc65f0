//! Errors of the model store.

use recd_model::ModelError;

/// What can go wrong with a model store, split by who must act.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `[models]` names something unusable (an unknown scheme, an S3 URL without a bucket):
    /// the operator's configuration, reported with the key.
    #[error("config key models.{key}: {reason}")]
    Config {
        /// The key under `[models]`.
        key: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The object store did not answer, refused the credentials or failed: the store (or
    /// the network to it) is down or misconfigured; a server keeps its current model.
    #[error("model store {store}: {source}")]
    Remote {
        /// The store's URL.
        store: String,
        /// What the object store client reported.
        #[source]
        source: object_store::Error,
    },
    /// What the store holds is not a complete, consistent version or registry (a manifest
    /// naming files that are missing or whose checksums differ, a state that does not parse):
    /// a damaged upload or a foreign writer; nothing is loaded from it.
    #[error("model store {store}: {reason}")]
    Corrupt {
        /// The store's URL.
        store: String,
        /// What is wrong.
        reason: String,
    },
    /// Another publisher changed the registry each time this one tried to: contention that
    /// outlasted the retries; the change was not made and can be run again.
    #[error("model store {store}: the registry changed under {attempts} attempts; try again")]
    Contention {
        /// The store's URL.
        store: String,
        /// How many conditional writes were refused.
        attempts: usize,
    },
    /// A registry or artifact error (a version that does not exist, nothing to promote,
    /// a local file that cannot be written): as `recd_model` classifies it.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A local file of the copy could not be read or written (disk full, permissions).
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
