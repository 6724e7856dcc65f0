//! The embedded backend: features in this process's memory, sharded by key.
//!
//! Nothing is persisted: the event log is the source of truth, and the updater rebuilds this
//! store at start by replaying the log over the TTL window. Locks are std `Mutex`es held only
//! for a lookup or an update, never across an `.await`; sharding keeps the updater and
//! concurrent readers from queueing on one lock.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use recd_types::{ItemId, TimestampMs, UserId};

use crate::apply::{apply_counters, apply_user, both_counts, plan, top, trending_items};
use crate::{
    Batch, CategoryCount, FeatureConfig, FeatureError, FeatureStore, FoldIn, ItemStats, Offset,
    TrendingItem, TrendingQuery, UserFeatures, Window, WindowCounters,
};

/// In-memory, sharded feature store.
pub struct EmbeddedStore {
    config: FeatureConfig,
    hasher: RandomState,
    users: Vec<Mutex<HashMap<UserId, UserFeatures>>>,
    items: Vec<Mutex<HashMap<ItemId, WindowCounters>>>,
    categories: Mutex<HashMap<String, WindowCounters>>,
    applied: Mutex<Option<Offset>>,
}

impl EmbeddedStore {
    /// An empty store.
    pub fn new(config: FeatureConfig) -> Self {
        let shards = config.shards.max(1);
        Self {
            hasher: RandomState::new(),
            users: (0..shards).map(|_| Mutex::default()).collect(),
            items: (0..shards).map(|_| Mutex::default()).collect(),
            categories: Mutex::default(),
            applied: Mutex::new(None),
            config,
        }
    }

    /// Number of users held (expired ones included until evicted).
    pub fn n_users(&self) -> usize {
        self.users.iter().map(|s| lock(s).len()).sum()
    }

    fn shard<'a, K: Hash, V>(&self, shards: &'a [Mutex<V>], key: &K) -> MutexGuard<'a, V> {
        let i = (self.hasher.hash_one(key) % shards.len() as u64) as usize;
        lock(&shards[i])
    }
}

/// Locks, ignoring poisoning: every update replaces whole values, so a panic in another
/// holder cannot leave a half-written state behind.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait]
impl FeatureStore for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    fn config(&self) -> &FeatureConfig {
        &self.config
    }

    async fn apply(&self, batch: &Batch, fold: Option<&dyn FoldIn>) -> Result<(), FeatureError> {
        let plan = plan(batch, &self.config);
        for (id, events) in &plan.users {
            // Fold-in runs outside the shard lock: it is the costliest step of an update.
            let stored = self.shard(&self.users, id).get(id).cloned();
            if let Some(state) = apply_user(stored, id, events, &self.config, fold, batch.now_ms) {
                self.shard(&self.users, id).insert(id.clone(), state);
            }
        }
        for (id, events) in &plan.items {
            let mut shard = self.shard(&self.items, id);
            if let Some(state) = apply_counters(shard.get(id).cloned(), events, true) {
                shard.insert(id.clone(), state);
            }
        }
        let mut categories = lock(&self.categories);
        for (name, events) in &plan.categories {
            if let Some(state) = apply_counters(categories.get(name).cloned(), events, false) {
                categories.insert(name.clone(), state);
            }
        }
        *lock(&self.applied) = Some(batch.next_offset);
        Ok(())
    }

    async fn applied_offset(&self) -> Result<Option<Offset>, FeatureError> {
        Ok(*lock(&self.applied))
    }

    async fn user(
        &self,
        id: &UserId,
        now_ms: TimestampMs,
    ) -> Result<Option<UserFeatures>, FeatureError> {
        let shard = self.shard(&self.users, id);
        Ok(shard
            .get(id)
            .filter(|f| !f.is_expired(now_ms, &self.config))
            .cloned())
    }

    async fn item(
        &self,
        id: &ItemId,
        now_ms: TimestampMs,
    ) -> Result<Option<ItemStats>, FeatureError> {
        let shard = self.shard(&self.items, id);
        Ok(shard.get(id).and_then(|c| {
            let (count_1h, count_24h) = both_counts(c, now_ms);
            (count_24h > 0 || count_1h > 0).then(|| ItemStats {
                item_id: id.clone(),
                category: c.category.clone(),
                count_1h,
                count_24h,
            })
        }))
    }

    async fn trending(&self, query: &TrendingQuery) -> Result<Vec<TrendingItem>, FeatureError> {
        // A scan of every item: fine for catalogs of some 100k items; a per-window top-k
        // index (as the Redis backend keeps) is the next step if it ever shows in a profile.
        let mut counts = Vec::new();
        for shard in &self.items {
            for (id, c) in lock(shard).iter() {
                if query.category.is_some() && c.category != query.category {
                    continue;
                }
                counts.push((id.clone(), c.count(query.window, query.now_ms)));
            }
        }
        Ok(trending_items(top(counts, query.limit)))
    }

    async fn categories(
        &self,
        window: Window,
        now_ms: TimestampMs,
        limit: usize,
    ) -> Result<Vec<CategoryCount>, FeatureError> {
        let counts = lock(&self.categories)
            .iter()
            .map(|(name, c)| (name.clone(), c.count(window, now_ms)))
            .collect();
        Ok(top(counts, limit)
            .into_iter()
            .map(|(category, count)| CategoryCount { category, count })
            .collect())
    }

    async fn delete_user(&self, id: &UserId) -> Result<bool, FeatureError> {
        Ok(self.shard(&self.users, id).remove(id).is_some())
    }

    async fn evict_expired(&self, now_ms: TimestampMs) -> Result<usize, FeatureError> {
        let mut evicted = 0;
        for shard in &self.users {
            let mut shard = lock(shard);
            let before = shard.len();
            shard.retain(|_, f| !f.is_expired(now_ms, &self.config));
            evicted += before - shard.len();
        }
        for shard in &self.items {
            lock(shard).retain(|_, c| c.count(Window::Day, now_ms) > 0);
        }
        lock(&self.categories).retain(|_, c| c.count(Window::Day, now_ms) > 0);
        Ok(evicted)
    }
}
