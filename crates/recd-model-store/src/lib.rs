//! recd's model store: where the versions `recd train` publishes and their registry live, and
//! how a server that does not share the trainer's disk gets them.
//!
//! Job:
//! - [`Location`]: `[models] store` read once — a directory (the data dir's `models/` by
//!   default, or a shared volume that several processes mount) or S3-compatible object
//!   storage (`s3://bucket/prefix`);
//! - [`remote::RemoteStore`]: the object-storage layout — `<prefix>/<version>/<file>` and
//!   `<prefix>/STATE.json` — with uploads (every file, the manifest last), registry changes
//!   replaced by one conditional PUT each, and verified downloads;
//! - [`mirror`]: a local copy of a remote store (the versions the registry names, then its
//!   state), which the server's model watcher reads as it reads any models directory, so a hot
//!   swap from the store is the same swap as from a local training.
//!
//! A directory store needs nothing from here beyond [`Location`]: the registry functions of
//! `recd_model::artifact::registry` (flock, rename) are its implementation.
//!
//! Non-goals: no training and no serving code (both depend on this crate, never the
//! reverse); no model format (that is `recd-model`'s artifact); no retention in a remote
//! store yet.

mod config;
mod error;
mod location;
pub mod mirror;
pub mod remote;

pub use config::ModelStoreConfig;
pub use error::StoreError;
pub use location::Location;

/// Describes this crate's metrics to the recorder (units and help texts). The store's health
/// is `recd_dependency_up{dependency="model_store"}`, the gauge every shared dependency uses
/// (described by `recd-features`, which records it for Redis).
pub fn describe_metrics() {
    metrics::describe_counter!(
        "recd_model_store_errors_total",
        "Failed polls of the remote model store (registry read or version download)"
    );
    metrics::describe_counter!(
        "recd_model_store_downloads_total",
        "Model versions downloaded from the remote model store into the local copy"
    );
    metrics::describe_histogram!(
        "recd_model_store_download_seconds",
        metrics::Unit::Seconds,
        "Time to download and verify one model version from the remote model store"
    );
}
