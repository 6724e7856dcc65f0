//! The embedded backend: features in this process's memory, sharded by key, within a budget.
//!
//! Nothing is persisted: the event log is the source of truth, and the updater rebuilds this
//! store at start by replaying the log over the TTL window. Locks are std `Mutex`es held only
//! for a lookup or an update, never across an `.await`; sharding keeps the updater and
//! concurrent readers from queueing on one lock.
//!
//! Users and items live in [`bounded::BoundedMap`]s, which drop their least recently used
//! entries past the configured memory budget. Dropping a user is what a TTL expiry does early:
//! their next event starts them from empty. It cannot make a replay apply an event twice,
//! since the updater resumes at the store's applied offset, which eviction leaves alone, and
//! the events past it are new to every state. Categories are not bounded: their names come
//! from the catalog, so there are as many as the catalog has.

mod bounded;

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use recd_types::{ItemId, TimestampMs, UserId};

use crate::apply::{apply_counters, apply_user, both_counts, plan, top, trending_items};
use crate::{
    Batch, CategoryCount, FeatureConfig, FeatureError, FeatureStore, FoldIn, ItemStats, Offset,
    TrendingItem, TrendingQuery, UserFeatures, Window, WindowCounters, telemetry,
};
use bounded::{BoundedMap, lock};

/// In-memory, sharded feature store.
pub struct EmbeddedStore {
    config: FeatureConfig,
    users: BoundedMap<UserId, UserFeatures>,
    items: BoundedMap<ItemId, WindowCounters>,
    categories: Mutex<HashMap<String, WindowCounters>>,
    applied: Mutex<Option<Offset>>,
}

impl EmbeddedStore {
    /// An empty store, within `config`'s memory budget.
    pub fn new(config: FeatureConfig) -> Self {
        let shards = config.shards.max(1);
        let budget = usize::try_from(config.memory_budget_bytes()).unwrap_or(usize::MAX);
        // Items get an eighth: a catalog's counters are a few hundred bytes each, and a user
        // flood, the growth this budget is for, only grows the users.
        let items_budget = budget / 8;
        let store = Self {
            users: BoundedMap::new(shards, budget - items_budget),
            items: BoundedMap::new(shards, items_budget),
            categories: Mutex::default(),
            applied: Mutex::new(None),
            config,
        };
        store.report_memory();
        store
    }

    /// Number of users held (expired ones included until evicted).
    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    /// Bytes the held users and items are estimated to take, and the budget.
    pub fn memory_bytes(&self) -> (usize, usize) {
        (
            self.users.used_bytes() + self.items.used_bytes(),
            self.users.budget_bytes() + self.items.budget_bytes(),
        )
    }

    fn report_memory(&self) {
        let (used, budget) = self.memory_bytes();
        telemetry::memory(used, budget);
    }
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
        let (mut users_evicted, mut items_evicted) = (0, 0);
        for (id, events) in &plan.users {
            // Fold-in runs outside the shard lock: it is the costliest step of an update.
            let stored = self.users.read(id, UserFeatures::clone);
            if let Some(state) = apply_user(stored, id, events, &self.config, fold, batch.now_ms) {
                users_evicted += self.users.insert(id.clone(), state);
            }
        }
        for (id, events) in &plan.items {
            let stored = self.items.read(id, WindowCounters::clone);
            if let Some(state) = apply_counters(stored, events, true, None) {
                items_evicted += self.items.insert(id.clone(), state);
            }
        }
        telemetry::evicted("user", "budget", users_evicted);
        telemetry::evicted("item", "budget", items_evicted);
        self.report_memory();
        let mut categories = lock(&self.categories);
        for (name, events) in &plan.categories {
            if let Some(state) = apply_counters(categories.get(name).cloned(), events, false, None)
            {
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
        Ok(self
            .users
            .read(id, |f| {
                (!f.is_expired(now_ms, &self.config)).then(|| f.clone())
            })
            .flatten())
    }

    async fn item(
        &self,
        id: &ItemId,
        now_ms: TimestampMs,
    ) -> Result<Option<ItemStats>, FeatureError> {
        Ok(self
            .items
            .read(id, |c| {
                let (count_1h, count_24h) = both_counts(c, now_ms);
                (count_24h > 0 || count_1h > 0).then(|| ItemStats {
                    item_id: id.clone(),
                    category: c.category.clone(),
                    count_1h,
                    count_24h,
                })
            })
            .flatten())
    }

    async fn trending(&self, query: &TrendingQuery) -> Result<Vec<TrendingItem>, FeatureError> {
        // A scan of every item: fine for catalogs of some 100k items; a per-window top-k
        // index (as the Redis backend keeps) is the next step if it ever shows in a profile.
        let mut counts = Vec::new();
        self.items.for_each(|id, c| {
            if query.category.is_none() || c.category == query.category {
                counts.push((id.clone(), c.count(query.window, query.now_ms)));
            }
        });
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
        let removed = self.users.remove(id);
        self.report_memory();
        Ok(removed)
    }

    async fn evict_expired(&self, now_ms: TimestampMs) -> Result<usize, FeatureError> {
        let evicted = self.users.retain(|f| !f.is_expired(now_ms, &self.config));
        let items = self.items.retain(|c| c.count(Window::Day, now_ms) > 0);
        lock(&self.categories).retain(|_, c| c.count(Window::Day, now_ms) > 0);
        telemetry::evicted("user", "expired", evicted);
        telemetry::evicted("item", "expired", items);
        self.report_memory();
        Ok(evicted)
    }
}
