//! A short-TTL cache of answers per (user, context).
//!
//! The key includes the log offset of the user's newest applied event (0 when the feature store
//! has none) and the model version, so a new event of the user, or a model swap, makes the old
//! entry unreachable at once: invalidation needs no hook into the event path. The entry
//! still ages out by TTL, which bounds staleness of everything else (trending, catalog).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;

use super::Answer;

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
}

/// The cache. A std `Mutex` is right here: it is never held across an `.await`, and the
/// critical section is a hash lookup.
pub struct ResultCache {
    ttl: Duration,
    entries: Mutex<LruCache<CacheKey, (Instant, Arc<Answer>)>>,
}

impl ResultCache {
    /// A cache of at most `capacity` answers, each valid for `ttl` (zero disables it).
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self {
            ttl,
            entries: Mutex::new(LruCache::new(cap)),
        }
    }

    /// A fresh answer for `key`, if any.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<Answer>> {
        if self.ttl.is_zero() {
            return None;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(key) {
            Some((at, answer)) if at.elapsed() < self.ttl => Some(answer.clone()),
            Some(_) => {
                entries.pop(key);
                None
            }
            None => None,
        }
    }

    /// Stores an answer.
    pub fn put(&self, key: CacheKey, answer: Arc<Answer>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.put(key, (Instant::now(), answer));
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
        }
    }

    fn answer() -> Arc<Answer> {
        Arc::new(Answer {
            request_id: "r".into(),
            model_version: Some("v1".into()),
            fallback: false,
            degraded: false,
            items: Vec::new(),
        })
    }

    #[test]
    fn a_new_event_or_the_ttl_makes_an_answer_unreachable() {
        let cache = ResultCache::new(10, Duration::from_secs(60));
        cache.put(key(1), answer());
        assert!(cache.get(&key(1)).is_some());
        assert!(cache.get(&key(2)).is_none(), "a newer event is another key");
        let expired = ResultCache::new(10, Duration::from_nanos(1));
        expired.put(key(1), answer());
        std::thread::sleep(Duration::from_millis(1));
        assert!(expired.get(&key(1)).is_none());
        let off = ResultCache::new(10, Duration::ZERO);
        off.put(key(1), answer());
        assert!(off.get(&key(1)).is_none());
    }
}
