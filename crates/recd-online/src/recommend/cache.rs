//! A short-TTL cache of answers per (user, context).
//!
//! The key includes the log offset of the user's newest applied event (0 when the feature store
//! has none) and the model version, so a new event of the user, or a model swap, makes the old
//! entry unreachable at once: invalidation needs no hook into the event path. The entry
//! still ages out by TTL, which bounds staleness of everything else (trending, catalog).
//!
//! It is bounded twice: by entries and by bytes. An answer's size depends on its length and
//! its item ids and reasons (a 200-result answer is forty times a 5-result one), so a count
//! alone does not bound memory; each entry is charged an estimate of what it holds, and the
//! least recently used answers go first once either bound is passed.

use std::mem::size_of;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;
use recd_features::heap::{HeapSize, allocation, string};

use super::{Answer, AnswerItem};

/// What identifies an answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The user.
    pub user_id: String,
    /// `context`, `device` and `category` parameters.
    pub context: (String, Option<String>, Option<String>),
    /// Results asked for.
    pub n: usize,
    /// Model version.
    pub model_version: String,
    /// The user's newest applied event offset (0 if none).
    pub user_offset: u64,
    /// The experiment variant that answered (its settings made the answer).
    pub variant: Option<String>,
}

/// One cached answer: when it was made, the answer, and the bytes it is charged.
type Entry = (Instant, Arc<Answer>, usize);

/// The entries in LRU order and the bytes they are charged.
struct Entries {
    lru: LruCache<CacheKey, Entry>,
    used: usize,
}

/// The cache. A std `Mutex` is right here: it is never held across an `.await`, and the
/// critical section is a hash lookup.
pub struct ResultCache {
    ttl: Duration,
    capacity: usize,
    budget_bytes: usize,
    entries: Mutex<Entries>,
}

impl ResultCache {
    /// A cache of at most `capacity` answers and `budget_bytes` of them, each valid for `ttl`
    /// (zero disables it).
    pub fn new(capacity: usize, budget_bytes: usize, ttl: Duration) -> Self {
        metrics::gauge!("recd_answer_cache_memory_bytes").set(0.0);
        metrics::gauge!("recd_answer_cache_memory_budget_bytes").set(budget_bytes as f64);
        Self {
            ttl,
            capacity: capacity.max(1),
            budget_bytes,
            // Unbounded to the `lru` crate: both bounds are enforced here, and its own bound
            // would allocate the index for `capacity` entries up front.
            entries: Mutex::new(Entries {
                lru: LruCache::unbounded(),
                used: 0,
            }),
        }
    }

    /// Bytes the cached answers are charged, and the budget.
    pub fn memory_bytes(&self) -> (usize, usize) {
        let used = self.lock().used;
        (used, self.budget_bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh answer for `key`, if any.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<Answer>> {
        if self.ttl.is_zero() {
            return None;
        }
        let mut entries = self.lock();
        match entries.lru.get(key) {
            Some((at, answer, _)) if at.elapsed() < self.ttl => Some(answer.clone()),
            Some(_) => {
                if let Some((_, _, charge)) = entries.lru.pop(key) {
                    entries.used -= charge;
                    metrics::gauge!("recd_answer_cache_memory_bytes").set(entries.used as f64);
                }
                None
            }
            None => None,
        }
    }

    /// Stores an answer, dropping the least recently used ones past either bound.
    pub fn put(&self, key: CacheKey, answer: Arc<Answer>) {
        if self.ttl.is_zero() {
            return;
        }
        let charge = entry_bytes(&key, &answer);
        let mut entries = self.lock();
        let mut freed = entries
            .lru
            .put(key, (Instant::now(), answer, charge))
            .map_or(0, |(_, _, old)| old);
        let mut evicted = 0u64;
        // `freed` only holds charges that are in `used` or are `charge`: no underflow.
        while entries.used + charge - freed > self.budget_bytes || entries.lru.len() > self.capacity
        {
            let Some((_, (_, _, c))) = entries.lru.pop_lru() else {
                break;
            };
            freed += c;
            evicted += 1;
        }
        entries.used = entries.used + charge - freed;
        let used = entries.used;
        drop(entries);
        metrics::counter!("recd_answer_cache_evictions_total").increment(evicted);
        metrics::gauge!("recd_answer_cache_memory_bytes").set(used as f64);
        metrics::gauge!("recd_answer_cache_memory_budget_bytes").set(self.budget_bytes as f64);
    }
}

/// What one cached answer costs: the key's strings, the answer (its `Arc` allocation, item
/// vector and strings; counted whole even while a response in flight shares it), the LRU
/// node and the index's slots (two pointers and a control byte, twice over: the index grows
/// by doubling once 7/8 full).
fn entry_bytes(key: &CacheKey, answer: &Answer) -> usize {
    let (context, device, category) = &key.context;
    let key_heap = string(&key.user_id)
        + string(context)
        + device.as_deref().map_or(0, string)
        + category.as_deref().map_or(0, string)
        + string(&key.model_version)
        + key.variant.as_deref().map_or(0, string);
    let answer_heap = allocation(2 * size_of::<usize>() + size_of::<Answer>())
        + string(&answer.request_id)
        + answer.model_version.heap_bytes()
        + answer.variant.heap_bytes()
        + answer
            .experiments
            .iter()
            .map(|e| string(e) + size_of::<String>())
            .sum::<usize>()
        + recd_features::heap::vec(&answer.items);
    let node = allocation(size_of::<CacheKey>() + size_of::<Entry>() + 2 * size_of::<usize>());
    let slot = 2 * (2 * size_of::<usize>() + 1);
    key_heap + answer_heap + node + slot
}

impl HeapSize for AnswerItem {
    fn heap_bytes(&self) -> usize {
        string(&self.item_id) + string(&self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(offset: u64) -> CacheKey {
        CacheKey {
            user_id: "u".into(),
            context: ("homepage".into(), None, None),
            n: 20,
            model_version: "v1".into(),
            user_offset: offset,
            variant: None,
        }
    }

    fn answer() -> Arc<Answer> {
        Arc::new(Answer {
            request_id: "r".into(),
            model_version: Some("v1".into()),
            fallback: false,
            degraded: false,
            variant: None,
            experiments: Vec::new(),
            cold: false,
            items: (0..20)
                .map(|i| AnswerItem {
                    item_id: format!("item-{i}"),
                    score: 1.0,
                    source: "als",
                    reason: "Because you viewed something like it".into(),
                })
                .collect(),
        })
    }

    fn keyed(user: usize) -> CacheKey {
        CacheKey {
            user_id: format!("user-{user}"),
            ..key(1)
        }
    }

    #[test]
    fn the_cache_stays_within_its_bytes_and_its_entries() {
        let one = entry_bytes(&keyed(0), &answer());
        assert!(one > 20 * 48, "{one}: twenty items with two strings each");
        let cache = ResultCache::new(1_000, 10 * one, Duration::from_secs(60));
        for user in 0..100 {
            cache.put(keyed(user), answer());
            assert!(cache.memory_bytes().0 <= 10 * one);
        }
        assert_eq!(cache.memory_bytes().0, 10 * one);
        assert!(cache.get(&keyed(99)).is_some());
        assert!(
            cache.get(&keyed(89)).is_none(),
            "the least recently used went first"
        );
        let few = ResultCache::new(3, usize::MAX, Duration::from_secs(60));
        for user in 0..10 {
            few.put(keyed(user), answer());
        }
        assert_eq!(few.memory_bytes().0, 3 * one);
    }

    #[test]
    fn a_new_event_or_the_ttl_makes_an_answer_unreachable() {
        let cache = ResultCache::new(10, usize::MAX, Duration::from_secs(60));
        cache.put(key(1), answer());
        assert!(cache.get(&key(1)).is_some());
        assert!(cache.get(&key(2)).is_none(), "a newer event is another key");
        let expired = ResultCache::new(10, usize::MAX, Duration::from_nanos(1));
        expired.put(key(1), answer());
        std::thread::sleep(Duration::from_millis(1));
        assert!(expired.get(&key(1)).is_none());
        let off = ResultCache::new(10, usize::MAX, Duration::ZERO);
        off.put(key(1), answer());
        assert!(off.get(&key(1)).is_none());
    }
}
