//! `[stream]` section of the config file.

use serde::{Deserialize, Serialize};

/// How the updater reads and applies the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamConfig {
    /// Most log records read and applied as one batch (one Redis round trip pair).
    pub batch_max_records: usize,
    /// How often the updater looks at the log when nobody told it about an append (appends
    /// by this process wake it at once), and checks that the store still has its state.
    pub poll_interval_ms: u64,
    /// First wait before retrying after a failure; doubles up to `retry_max_ms`.
    pub retry_min_ms: u64,
    /// Longest wait between retries.
    pub retry_max_ms: u64,
    /// How often expired users are dropped from the embedded store.
    pub evict_interval_secs: u64,
    /// On a partitioned bus (`recd stream`): how long a partition's lease lasts without
    /// renewal. A process that dies loses its partitions to a survivor after this long.
    pub lease_ms: u64,
    /// `recd stream` only: where it answers `GET /metrics` and `GET /healthz` (host:port);
    /// empty: no listener.
    pub listen: String,
    /// The nearline fold-in.
    pub fold_in: FoldInConfig,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            batch_max_records: 1_000,
            poll_interval_ms: 200,
            retry_min_ms: 50,
            retry_max_ms: 2_000,
            evict_interval_secs: 60,
            lease_ms: 3_000,
            listen: String::new(),
            fold_in: FoldInConfig::default(),
        }
    }
}

/// The nearline fold-in. Its confidence weights are not set here: they are the ones the
/// served model was trained with (`[train.weights]`), read from its manifest
/// ([`crate::ItemFactors::weights`]), so the speed layer cannot drift from the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FoldInConfig {
    /// Compute vectors at all.
    pub enabled: bool,
}

impl Default for FoldInConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}
