//! The Redis backend: the same features, in Redis, shared by every server process.
//!
//! Keys (values are JSON, so `redis-cli GET` shows them as they are):
//! - `user:{id}:features` — [`UserFeatures`], expiring (`PXAT`) at the newest event plus the TTL;
//! - `item:{id}:counters`, `category:{name}:counters` — [`WindowCounters`], expiring a day
//!   after their newest bucket;
//! - `trending:items:{1h|24h}:s{0..7}`, `trending:items:{1h|24h}:category:{name}`,
//!   `trending:categories:{1h|24h}:s{0..7}` — sorted sets indexing the counters for top-k
//!   reads; the all-items and categories indexes in shards by member hash, so their writes
//!   spread over a cluster's slots;
//! - `recd:features:applied_offset` — where the updater resumes; on a partitioned bus, one
//!   `recd:features:applied_offset:p<n>` per partition ([`RedisStore::for_partition`]), whose
//!   updater writes its users' keys alone and the shared item and category counters by
//!   compare-and-set (`shared.rs`).
//!
//! A batch costs two round trips: one pipelined read of every key it touches, one pipelined
//! write of the new values (then a tiny swap of the offset, which also detects a Redis that
//! lost its data since the previous batch). Each value carries the offset of
//! the newest event in it and applying skips older ones, so a batch retried after a partial
//! failure changes nothing twice; the offset is written only after the values.
//!
//! The index scores are the counts when the item was last written. Counts only fall as time
//! passes without events, so a score is an upper bound of the current count, and a top-k read
//! can stop as soon as the next score is below the k-th exact count it has recomputed.

mod cache;
mod conn;
mod shared;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use recd_types::{ItemId, TimestampMs, UserId};
use redis::{Cmd, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::cache::UserCache;
use self::conn::Conn;
use crate::apply::{apply_counters, apply_user, both_counts, plan, top, trending_items};
use crate::{
    Batch, CategoryCount, FeatureConfig, FeatureError, FeatureStore, FoldIn, ItemStats, Offset,
    TrendingItem, TrendingQuery, UserFeatures, Window, WindowCounters,
};

const OFFSET_KEY: &str = "recd:features:applied_offset";
const DAY_MS: i64 = 24 * 3_600_000;
/// How often, at most, the "reads degraded" warning is logged while Redis is unreachable.
const DEGRADED_LOG_EVERY: Duration = Duration::from_secs(5);
/// Most pages of index entries a top-k read looks at before returning what it has.
const MAX_INDEX_PAGES: usize = 8;

/// Feature store on a Redis server or cluster.
pub struct RedisStore {
    config: FeatureConfig,
    conn: Conn,
    /// The bus partition whose events this handle applies, if the bus is partitioned.
    partition: Option<u32>,
    offset_key: String,
    cache: UserCache,
    last_degraded_log: Mutex<Option<Instant>>,
}

fn user_key(id: &UserId) -> String {
    format!("user:{id}:features")
}

fn item_key(id: &ItemId) -> String {
    format!("item:{id}:counters")
}

fn category_key(name: &str) -> String {
    format!("category:{name}:counters")
}

/// Shards of the all-items and the categories trending indexes. Every engaged event writes
/// one entry of each; one key per window would put all that write load on one slot of a
/// cluster (one master), so the entries are spread over shards by a hash of the member and a
/// top-k read merges the shards' (reads of trending lists are rare next to those writes).
const INDEX_SHARDS: u32 = 8;

/// The index shard of `member`: the engine's stable hash, the same in every process.
fn index_shard(member: &str) -> u32 {
    (recd_types::fnv1a(member.bytes()) % u64::from(INDEX_SHARDS)) as u32
}

/// The index that lists `item` (in `category`'s index, or its shard of the all-items one).
fn items_index(window: Window, category: Option<&str>, item: &str) -> String {
    match category {
        None => format!("trending:items:{}:s{}", window.as_str(), index_shard(item)),
        Some(c) => format!("trending:items:{}:category:{c}", window.as_str()),
    }
}

/// Every index a top-k read of `category` (or of all items) looks at.
fn items_indexes(window: Window, category: Option<&str>) -> Vec<String> {
    match category {
        None => (0..INDEX_SHARDS)
            .map(|k| format!("trending:items:{}:s{k}", window.as_str()))
            .collect(),
        Some(c) => vec![format!("trending:items:{}:category:{c}", window.as_str())],
    }
}

fn categories_index(window: Window, name: &str) -> String {
    format!(
        "trending:categories:{}:s{}",
        window.as_str(),
        index_shard(name)
    )
}

fn categories_indexes(window: Window) -> Vec<String> {
    (0..INDEX_SHARDS)
        .map(|k| format!("trending:categories:{}:s{k}", window.as_str()))
        .collect()
}

impl RedisStore {
    /// A store on `url` (`redis://host:port` or `redis+cluster://host:port,...`). Connects
    /// lazily: an unreachable server is reported by the first call, not here.
    pub fn open(url: &str, config: FeatureConfig) -> Result<Self, FeatureError> {
        let conn = Conn::open(url, &config.redis)?;
        let cache = UserCache::new(
            config.redis.cache_capacity,
            Duration::from_millis(config.redis.cache_ttl_ms),
        );
        Ok(Self {
            config,
            conn,
            partition: None,
            offset_key: OFFSET_KEY.to_string(),
            cache,
            last_degraded_log: Mutex::new(None),
        })
    }

    /// A handle on the same Redis (the connection is shared) for the updater of partition
    /// `p` of a partitioned bus: its applied offset is the partition's own, and it writes
    /// the counters that all partitions share by compare-and-set.
    pub fn for_partition(&self, p: u32) -> Self {
        Self {
            config: self.config.clone(),
            conn: self.conn.clone(),
            partition: Some(p),
            offset_key: format!("{OFFSET_KEY}:p{p}"),
            cache: UserCache::new(
                self.config.redis.cache_capacity.min(1_024),
                Duration::from_millis(self.config.redis.cache_ttl_ms),
            ),
            last_degraded_log: Mutex::new(None),
        }
    }

    /// Sends `PING`; for readiness checks and tests.
    pub async fn ping(&self) -> Result<(), FeatureError> {
        self.conn
            .query::<String>(&redis::cmd("PING"))
            .await
            .map(drop)
    }

    async fn get_all<T: DeserializeOwned>(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<T>>, FeatureError> {
        let cmds = keys.iter().map(|k| cmd1("GET", k)).collect();
        let values = self.conn.run_all(cmds).await?;
        Ok(keys.iter().zip(values).map(|(k, v)| decode(k, v)).collect())
    }

    fn note_degraded(&self, err: &FeatureError, hit: bool) {
        metrics::counter!("recd_features_degraded_reads_total", "cache" => if hit { "hit" } else { "miss" })
            .increment(1);
        let mut last = self
            .last_degraded_log
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|t| t.elapsed() >= DEGRADED_LOG_EVERY) {
            *last = Some(Instant::now());
            tracing::warn!(error = %err, "redis unreachable: serving user features from the local cache");
        }
    }

    /// Forgets the offset (so the updater replays the log from the start) and the values this
    /// batch may have written onto the emptied store (they lack older events, yet carry new
    /// offsets that would make the replay skip them). Returns the error to report.
    async fn lost_state(
        &self,
        batch: &Batch,
        found: Option<Offset>,
        written: &[String],
    ) -> FeatureError {
        metrics::counter!("recd_features_state_lost_total").increment(1);
        tracing::warn!(
            expected = batch.first_offset,
            ?found,
            "redis lost its feature state; the log will be replayed"
        );
        let mut cmds: Vec<Cmd> = written.iter().map(|k| cmd1("DEL", k)).collect();
        cmds.push(cmd1("DEL", &self.offset_key));
        if let Err(e) = self.conn.run_all(cmds).await {
            return e;
        }
        for (id, _) in plan(batch, &self.config).users {
            self.cache.remove(&id);
        }
        FeatureError::StateLost {
            expected: batch.first_offset,
            found,
        }
    }

    /// Records the batch as applied. SET .. GET swaps the offset and tells what was there:
    /// anything else than at the start means Redis lost its data while the batch was being
    /// written; then the keys this batch alone wrote (`written`) are removed.
    async fn commit_offset(
        &self,
        batch: &Batch,
        stored_offset: Option<Offset>,
        written: &[String],
        written_users: Vec<UserFeatures>,
    ) -> Result<(), FeatureError> {
        let mut set_offset = redis::cmd("SET");
        set_offset
            .arg(&self.offset_key)
            .arg(batch.next_offset)
            .arg("GET");
        let previous: Option<Offset> = self.conn.query(&set_offset).await?;
        if previous != stored_offset {
            return Err(self.lost_state(batch, previous, written).await);
        }
        for state in written_users {
            self.cache.put(state);
        }
        Ok(())
    }

    /// Top entries over several indexes (the shards of one), merged.
    async fn top_from_indexes(
        &self,
        indexes: &[String],
        window: Window,
        now_ms: TimestampMs,
        limit: usize,
        counter_key: impl Fn(&str) -> String,
        keep: impl Fn(&WindowCounters) -> bool,
    ) -> Result<Vec<(String, u64)>, FeatureError> {
        let mut found = Vec::new();
        for index in indexes {
            found.extend(
                self.top_from_index(index, window, now_ms, limit, &counter_key, &keep)
                    .await?,
            );
        }
        Ok(top(found, limit))
    }

    /// Top entries of an index, recomputed from their counters at `now_ms`.
    async fn top_from_index(
        &self,
        index: &str,
        window: Window,
        now_ms: TimestampMs,
        limit: usize,
        counter_key: impl Fn(&str) -> String,
        keep: impl Fn(&WindowCounters) -> bool,
    ) -> Result<Vec<(String, u64)>, FeatureError> {
        let page = (limit * 2 + 16) as isize;
        let mut found: Vec<(String, u64)> = Vec::new();
        let mut stale: Vec<String> = Vec::new();
        for n in 0..MAX_INDEX_PAGES as isize {
            let mut cmd = redis::cmd("ZREVRANGE");
            cmd.arg(index)
                .arg(n * page)
                .arg((n + 1) * page - 1)
                .arg("WITHSCORES");
            let entries: Vec<(String, f64)> = self.conn.query(&cmd).await?;
            let keys: Vec<String> = entries.iter().map(|(m, _)| counter_key(m)).collect();
            let counters: Vec<Option<WindowCounters>> = self.get_all(&keys).await?;
            for ((member, _), c) in entries.iter().zip(counters) {
                let count = c
                    .as_ref()
                    .filter(|c| keep(c))
                    .map_or(0, |c| c.count(window, now_ms));
                if count == 0 && c.as_ref().is_none_or(|c| c.count(window, now_ms) == 0) {
                    stale.push(member.clone());
                }
                found.push((member.clone(), count));
            }
            found = top(found, limit);
            let exhausted = (entries.len() as isize) < page;
            let lowest_score = entries.last().map_or(0.0, |(_, s)| *s);
            let kth = if found.len() == limit {
                found[limit - 1].1 as f64
            } else {
                -1.0
            };
            if exhausted || lowest_score <= kth {
                break;
            }
        }
        if !stale.is_empty() {
            let mut cmd = redis::cmd("ZREM");
            cmd.arg(index).arg(&stale);
            // Tidying only: a failure here leaves entries a later read removes.
            let _ = self.conn.query::<i64>(&cmd).await;
        }
        Ok(found)
    }
}

fn cmd1(name: &str, key: &str) -> Cmd {
    let mut c = redis::cmd(name);
    c.arg(key);
    c
}

fn set_json<T: Serialize>(key: &str, value: &T, expire_at_ms: TimestampMs) -> Cmd {
    let json = serde_json::to_string(value).unwrap_or_default();
    let mut c = redis::cmd("SET");
    c.arg(key).arg(json).arg("PXAT").arg(expire_at_ms.max(1));
    c
}

fn zadd(index: &str, score: u64, member: &str) -> Cmd {
    let mut c = redis::cmd("ZADD");
    c.arg(index).arg(score).arg(member);
    c
}

/// Decodes a JSON value; a value that does not decode is logged and treated as absent, so the
/// updater rewrites it from the log instead of stopping on it.
fn decode<T: DeserializeOwned>(key: &str, value: Value) -> Option<T> {
    let bytes = match value {
        Value::BulkString(b) => b,
        Value::Nil => return None,
        other => {
            tracing::error!(key, value = ?other, "unexpected redis value type; ignoring it");
            return None;
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            metrics::counter!("recd_features_corrupt_values_total").increment(1);
            tracing::error!(key, error = %e, "feature value does not decode; it will be rebuilt");
            None
        }
    }
}

#[async_trait]
impl FeatureStore for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    fn config(&self) -> &FeatureConfig {
        &self.config
    }

    async fn apply(&self, batch: &Batch, fold: Option<&dyn FoldIn>) -> Result<(), FeatureError> {
        let plan = plan(batch, &self.config);
        let user_keys: Vec<String> = plan.users.iter().map(|(id, _)| user_key(id)).collect();
        let item_keys: Vec<String> = plan.items.iter().map(|(id, _)| item_key(id)).collect();
        let cat_keys: Vec<String> = plan
            .categories
            .iter()
            .map(|(c, _)| category_key(c))
            .collect();
        let all_keys: Vec<String> = [&user_keys[..], &item_keys[..], &cat_keys[..]].concat();
        let mut cmds: Vec<Cmd> = all_keys.iter().map(|k| cmd1("GET", k)).collect();
        cmds.push(cmd1("GET", &self.offset_key));
        let mut values = self.conn.run_all(cmds).await?;
        let stored_offset: Option<Offset> = values
            .pop()
            .and_then(|v| redis::from_redis_value(v).ok())
            .flatten();
        // Applying onto a store that lost its state would stamp partial values with new
        // offsets, and the replay would then skip the events they lack: refuse instead.
        let expected = (batch.first_offset > 0).then_some(batch.first_offset);
        if stored_offset != expected && stored_offset != Some(batch.next_offset) {
            return Err(self.lost_state(batch, stored_offset, &[]).await);
        }
        let mut values = values.into_iter();
        let mut writes = Vec::new();
        let mut written_users = Vec::new();
        let now = batch.now_ms;
        for ((id, events), key) in plan.users.iter().zip(&user_keys) {
            let stored = decode(key, values.next().unwrap_or(Value::Nil));
            if let Some(state) = apply_user(stored, id, events, &self.config, fold, now) {
                writes.push(set_json(key, &state, state.expires_at_ms(&self.config)));
                written_users.push(state);
            }
        }
        if let Some(partition) = self.partition {
            // Shared with the other partitions' updaters: compare-and-set, never a blind SET.
            let shared_items = plan
                .items
                .iter()
                .zip(&item_keys)
                .map(|((id, events), key)| (key, shared::Target::Item(id.as_str()), events));
            let shared_categories =
                plan.categories
                    .iter()
                    .zip(&cat_keys)
                    .map(|((name, events), key)| {
                        (key, shared::Target::Category(name.as_str()), events)
                    });
            let pending = shared_items
                .chain(shared_categories)
                .map(|(key, target, events)| shared::Shared {
                    key: key.clone(),
                    target,
                    events: events.clone(),
                    raw: shared::raw(&values.next().unwrap_or(Value::Nil)),
                })
                .collect();
            self.conn.run_all(writes).await?;
            shared::write(&self.conn, pending, partition, now).await?;
            return self
                .commit_offset(batch, stored_offset, &user_keys, written_users)
                .await;
        }
        for ((id, events), key) in plan.items.iter().zip(&item_keys) {
            let stored = decode(key, values.next().unwrap_or(Value::Nil));
            if let Some(state) = apply_counters(stored, events, true, None) {
                let end = state.newest_ms().unwrap_or(now).max(now);
                writes.push(set_json(key, &state, end + DAY_MS));
                for w in Window::ALL {
                    let score = state.count(w, end);
                    writes.push(zadd(&items_index(w, None, id.as_str()), score, id.as_str()));
                    if let Some(c) = &state.category {
                        writes.push(zadd(
                            &items_index(w, Some(c), id.as_str()),
                            score,
                            id.as_str(),
                        ));
                    }
                }
            }
        }
        for ((name, events), key) in plan.categories.iter().zip(&cat_keys) {
            let stored = decode(key, values.next().unwrap_or(Value::Nil));
            if let Some(state) = apply_counters(stored, events, false, None) {
                let end = state.newest_ms().unwrap_or(now).max(now);
                writes.push(set_json(key, &state, end + DAY_MS));
                for w in Window::ALL {
                    writes.push(zadd(&categories_index(w, name), state.count(w, end), name));
                }
            }
        }
        self.conn.run_all(writes).await?;
        self.commit_offset(batch, stored_offset, &all_keys, written_users)
            .await
    }

    async fn check(&self) -> Result<(), FeatureError> {
        self.ping().await
    }

    async fn applied_offset(&self) -> Result<Option<Offset>, FeatureError> {
        self.conn.query(&cmd1("GET", &self.offset_key)).await
    }

    async fn user(
        &self,
        id: &UserId,
        now_ms: TimestampMs,
    ) -> Result<Option<UserFeatures>, FeatureError> {
        let live = |f: &UserFeatures| !f.is_expired(now_ms, &self.config);
        let cached = self.cache.fresh(id);
        crate::telemetry::cache_read(cached.is_some());
        if let Some(f) = cached {
            return Ok(Some((*f).clone()).filter(live));
        }
        let key = user_key(id);
        match self.conn.query::<Value>(&cmd1("GET", &key)).await {
            Ok(value) => {
                let found: Option<UserFeatures> = decode(&key, value);
                match &found {
                    Some(f) => self.cache.put(f.clone()),
                    None => self.cache.remove(id),
                }
                Ok(found.filter(live))
            }
            Err(err) => {
                let cached = self.cache.any_age(id);
                self.note_degraded(&err, cached.is_some());
                match cached {
                    Some(f) => Ok(Some((*f).clone()).filter(live)),
                    None => Err(err),
                }
            }
        }
    }

    async fn item(
        &self,
        id: &ItemId,
        now_ms: TimestampMs,
    ) -> Result<Option<ItemStats>, FeatureError> {
        let key = item_key(id);
        let found: Option<WindowCounters> =
            decode(&key, self.conn.query(&cmd1("GET", &key)).await?);
        Ok(found.and_then(|c| {
            let (count_1h, count_24h) = both_counts(&c, now_ms);
            (count_24h > 0 || count_1h > 0).then(|| ItemStats {
                item_id: id.clone(),
                category: c.category.clone(),
                count_1h,
                count_24h,
            })
        }))
    }

    async fn trending(&self, query: &TrendingQuery) -> Result<Vec<TrendingItem>, FeatureError> {
        let indexes = items_indexes(query.window, query.category.as_deref());
        let found = self
            .top_from_indexes(
                &indexes,
                query.window,
                query.now_ms,
                query.limit,
                |m| format!("item:{m}:counters"),
                |c| query.category.is_none() || c.category == query.category,
            )
            .await?;
        let items = found
            .into_iter()
            .filter_map(|(m, n)| ItemId::parse(m).ok().map(|id| (id, n)))
            .collect();
        Ok(trending_items(items))
    }

    async fn categories(
        &self,
        window: Window,
        now_ms: TimestampMs,
        limit: usize,
    ) -> Result<Vec<CategoryCount>, FeatureError> {
        let found = self
            .top_from_indexes(
                &categories_indexes(window),
                window,
                now_ms,
                limit,
                category_key,
                |_| true,
            )
            .await?;
        Ok(found
            .into_iter()
            .map(|(category, count)| CategoryCount { category, count })
            .collect())
    }

    async fn delete_user(&self, id: &UserId) -> Result<bool, FeatureError> {
        // The local cache goes first: while Redis is unreachable it would serve the entry
        // whatever its age. Other processes' caches drop it when their updater applies the
        // tombstone, or after the cache TTL.
        self.cache.remove(id);
        let removed: i64 = self.conn.query(&cmd1("DEL", &user_key(id))).await?;
        Ok(removed > 0)
    }

    async fn evict_expired(&self, _now_ms: TimestampMs) -> Result<usize, FeatureError> {
        Ok(0) // Redis expires the keys itself (PXAT).
    }
}
