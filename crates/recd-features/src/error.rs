//! Errors of the feature store.

/// What can go wrong reading or writing features. Nothing here is the HTTP caller's fault:
/// features are derived from events that were validated before they were logged.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// The backend cannot be reached or timed out. Transient: the updater retries from its
    /// log offset, and readers fall back to their local cache or report "unavailable".
    #[error("feature store unavailable: {0}")]
    Unavailable(String),
    /// The store no longer holds state it acknowledged (e.g. Redis restarted empty): its
    /// applied offset was not where the batch started. Transient: the store forgets its
    /// offset, and the updater replays the log into it.
    #[error("feature store lost its state: expected applied offset {expected}, found {found:?}")]
    StateLost {
        /// Where the batch started.
        expected: u64,
        /// What the store had.
        found: Option<u64>,
    },
    /// A stored value could not be decoded (written by an incompatible version, or damaged).
    /// Internal: the operator must look; the updater rewrites the key from the log.
    #[error("corrupt feature value at {key}: {reason}")]
    Corrupt {
        /// The key that failed to decode.
        key: String,
        /// The decoder's complaint.
        reason: String,
    },
    /// The backend URL or settings are wrong: the operator's fault, reported at startup.
    #[error("feature store configuration: {0}")]
    Config(String),
}
