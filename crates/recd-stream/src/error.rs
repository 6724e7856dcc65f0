//! Errors of the updater.

use recd_features::FeatureError;
use recd_store::StoreError;

/// Why a step of the updater failed. Both kinds are retried by [`crate::Updater::run`]:
/// the log is the source of truth, so a failed step is simply read and applied again.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading the event log failed (disk error, corruption): the operator must look.
    #[error("reading the event log: {0}")]
    Log(#[from] StoreError),
    /// The feature store failed (e.g. Redis unreachable): transient, retried.
    #[error(transparent)]
    Features(#[from] FeatureError),
    /// The blocking log reader task died (it panicked): a bug.
    #[error("log reader task failed: {0}")]
    Task(String),
}
