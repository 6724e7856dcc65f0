//! The [`FeatureStore`] trait and the values that cross it.

use async_trait::async_trait;
use recd_types::{Event, ItemId, TimestampMs, UserId};

use crate::{FeatureConfig, FeatureError, Offset, UserFeatures, UserVector, Window};

/// One event as read from the log, with its offset and its item's category.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    /// Position in the event log.
    pub offset: Offset,
    /// The event.
    pub event: Event,
    /// Category of the event's item as known when it is applied (the updater looks it up).
    pub category: Option<String>,
}

/// A stretch of the log to apply: its events in log order, and where the stretch ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The offset the stretch starts at: the store's applied offset before this batch
    /// (a store that finds another one there has lost state and says so).
    pub first_offset: Offset,
    /// Events in log order. Records of the stretch that are not events (catalog and profile
    /// changes) are left out but still counted in `next_offset`.
    pub events: Vec<LoggedEvent>,
    /// The offset right after the stretch: where the updater resumes once it is applied.
    pub next_offset: Offset,
    /// Wall-clock time of the apply; events older than the user TTL by then are not applied.
    pub now_ms: TimestampMs,
}

/// Computes a user's vector from their features (the nearline fold-in); supplied by the
/// updater, which knows the current model. Returning `None` leaves the stored vector as it is.
pub trait FoldIn: Send + Sync {
    /// The folded-in vector for `features`, or `None` when there is nothing to fold in.
    fn fold_in(&self, features: &UserFeatures) -> Option<UserVector>;
}

/// What to rank in [`FeatureStore::trending`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrendingQuery {
    /// Which window to count in.
    pub window: Window,
    /// Only items of this category, if set.
    pub category: Option<String>,
    /// End of the window, ms since the epoch.
    pub now_ms: TimestampMs,
    /// Most items to return.
    pub limit: usize,
}

/// One trending item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendingItem {
    /// The item.
    pub item_id: ItemId,
    /// Engagement events in the window.
    pub count: u64,
}

/// One category's popularity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryCount {
    /// The category.
    pub category: String,
    /// Engagement events in the window.
    pub count: u64,
}

/// Trending counters of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemStats {
    /// The item.
    pub item_id: ItemId,
    /// Category when its newest event was applied.
    pub category: Option<String>,
    /// Engagement events in the last hour.
    pub count_1h: u64,
    /// Engagement events in the last 24 hours.
    pub count_24h: u64,
}

/// Where real-time features live. One writer (the updater) calls [`FeatureStore::apply`];
/// any number of readers call the rest, except [`FeatureStore::delete_user`], which the
/// updater calls for a tombstone and the server for the deletion request itself. Every backend passes the same contract test suite.
#[async_trait]
pub trait FeatureStore: Send + Sync {
    /// Backend name for logs and health reports: `embedded` or `redis`.
    fn backend(&self) -> &'static str;

    /// Whether the backend answers now (readiness reports it). The embedded store always
    /// does; Redis is pinged.
    async fn check(&self) -> Result<(), FeatureError> {
        Ok(())
    }

    /// The settings the store was opened with.
    fn config(&self) -> &FeatureConfig;

    /// Applies a batch in log order and then records `batch.next_offset` as applied.
    /// Idempotent: events already applied (by offset) are skipped, so a batch may be retried
    /// after a failure. `fold` computes user vectors for the users the batch touched.
    async fn apply(&self, batch: &Batch, fold: Option<&dyn FoldIn>) -> Result<(), FeatureError>;

    /// Where the updater should resume: the `next_offset` of the last batch applied, or `None`
    /// when the store holds nothing (new, or lost its data).
    async fn applied_offset(&self) -> Result<Option<Offset>, FeatureError>;

    /// A user's features, or `None` if there are none, they expired by `now_ms`, or the store
    /// dropped them to stay within its memory budget (the embedded backend).
    async fn user(
        &self,
        id: &UserId,
        now_ms: TimestampMs,
    ) -> Result<Option<UserFeatures>, FeatureError>;

    /// An item's trending counters, or `None` if it had no engagement in the last day.
    async fn item(
        &self,
        id: &ItemId,
        now_ms: TimestampMs,
    ) -> Result<Option<ItemStats>, FeatureError>;

    /// The most engaged items of a window, most first (ties by id), without zero counts.
    async fn trending(&self, query: &TrendingQuery) -> Result<Vec<TrendingItem>, FeatureError>;

    /// The most engaged categories of a window, most first (ties by name), without zeros.
    async fn categories(
        &self,
        window: Window,
        now_ms: TimestampMs,
        limit: usize,
    ) -> Result<Vec<CategoryCount>, FeatureError>;

    /// Removes every feature of user `id` (their data was deleted); returns whether there
    /// were any. The next event of the id starts a new state. Item and category counters
    /// keep the user's past engagement: they are counts that name no user.
    async fn delete_user(&self, id: &UserId) -> Result<bool, FeatureError>;

    /// Drops users whose features expired by `now_ms`; returns how many. Backends whose
    /// storage expires keys by itself (Redis) return 0.
    async fn evict_expired(&self, now_ms: TimestampMs) -> Result<usize, FeatureError>;
}
