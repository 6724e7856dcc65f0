//! `[features]` section of the config file.

use serde::{Deserialize, Serialize};

/// How much the feature store keeps, and for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureConfig {
    /// Where features live: `embedded` (in memory, rebuilt from the log at start), a
    /// `redis://host:port` URL, or `redis+cluster://host1:port1,host2:port2` for a Redis Cluster.
    /// The CLI flag `--feature-store` overrides it.
    pub store: String,
    /// A user's real-time features expire this long after their newest event. Events older
    /// than this (by their timestamp) are not applied at all, so a restart that replays the
    /// log over this window rebuilds the same state.
    pub user_ttl_secs: u64,
    /// How many viewed items to keep per user (newest first, deduplicated).
    pub recent_views: usize,
    /// How many search queries to keep per user.
    pub recent_queries: usize,
    /// How many recent item interactions to keep per user, raw (the fold-in and the online
    /// engine read them, and the user's negatives are derived from them under the served
    /// model's weights).
    pub recent_interactions: usize,
    /// A gap without events longer than this starts a new session (when the client sends no
    /// session id, or the same one).
    pub session_gap_secs: u64,
    /// How many distinct pages to keep per session.
    pub session_pages: usize,
    /// Number of lock shards of the embedded backend (more shards, less contention).
    pub shards: usize,
    /// Memory the embedded backend may hold, in MiB (0: a quarter of the machine's memory, or
    /// of the container's limit when lower). Users' features get seven eighths of it and
    /// items' trending counters one eighth; past that, the least recently active users (read
    /// or written) and the least recently engaged items are dropped, as a TTL expiry would
    /// drop them, and start again from their next events. The Redis backend ignores it:
    /// there it is Redis's `maxmemory`.
    pub memory_budget_mb: u64,
    /// Settings used only by the Redis backend.
    pub redis: RedisConfig,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            store: "embedded".into(),
            user_ttl_secs: 24 * 3600,
            recent_views: 5,
            recent_queries: 5,
            recent_interactions: 50,
            session_gap_secs: 30 * 60,
            session_pages: 10,
            shards: 16,
            memory_budget_mb: 0,
            redis: RedisConfig::default(),
        }
    }
}

impl FeatureConfig {
    /// The embedded backend's memory budget in bytes ([`FeatureConfig::memory_budget_mb`], or
    /// its default share of memory).
    pub fn memory_budget_bytes(&self) -> u64 {
        crate::memory::budget_bytes(self.memory_budget_mb, 4)
    }

    /// The user TTL in milliseconds.
    pub fn user_ttl_ms(&self) -> i64 {
        i64::try_from(self.user_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// The session gap in milliseconds.
    pub fn session_gap_ms(&self) -> i64 {
        i64::try_from(self.session_gap_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
}

/// Settings of the Redis backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// Entries of the local cache of user features in front of Redis.
    pub cache_capacity: usize,
    /// How long a cached user is served without asking Redis. The updater in this process
    /// refreshes the entries it writes, so this only bounds staleness of writes made by
    /// another process (`recd stream` in a scaled deployment, where `recd serve` uses at most
    /// [`RedisConfig::SHARED_CACHE_TTL_MS`]). When Redis is unreachable, cached entries are
    /// served whatever their age.
    pub cache_ttl_ms: u64,
    /// Give up connecting after this long.
    pub connect_timeout_ms: u64,
    /// Give up waiting for a reply after this long (a read then degrades to the cache).
    pub response_timeout_ms: u64,
}

impl RedisConfig {
    /// The longest a cached user is served without asking Redis when another process writes
    /// the features (`recd stream`): the share of the freshness goal (an event visible to
    /// every API process within 50 ms) that the cache may take.
    pub const SHARED_CACHE_TTL_MS: u64 = 20;
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            cache_capacity: 10_000,
            cache_ttl_ms: 500,
            connect_timeout_ms: 1_000,
            response_timeout_ms: 1_000,
        }
    }
}
