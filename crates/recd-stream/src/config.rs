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
            fold_in: FoldInConfig::default(),
        }
    }
}

/// How recent interactions become the values of the fold-in solve. The weights must match
/// the ones the model was trained with (`[train.weights]`; the defaults are the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FoldInConfig {
    /// Compute vectors at all.
    pub enabled: bool,
    /// Weight of a view.
    pub view: f32,
    /// Weight of a click.
    pub click: f32,
    /// Weight of an add-to-cart.
    pub add_to_cart: f32,
    /// Weight of a purchase.
    pub purchase: f32,
    /// Weight of a like.
    pub like: f32,
    /// A rating at or above this is positive; below it, the item is left out.
    pub rating_positive_from: f32,
    /// Weight of a positive rating r: `rating_scale × (r − rating_positive_from + 1)`.
    pub rating_scale: f32,
}

impl Default for FoldInConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            view: 1.0,
            click: 2.0,
            add_to_cart: 4.0,
            purchase: 8.0,
            like: 4.0,
            rating_positive_from: 3.0,
            rating_scale: 2.0,
        }
    }
}
