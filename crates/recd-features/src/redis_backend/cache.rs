//! The small local cache of user features in front of Redis.
//!
//! Two jobs: spare Redis the reads of hot users (entries younger than the cache TTL are served
//! as they are; the updater in this process refreshes the entries it writes), and keep
//! answering while Redis is unreachable (then entries are served whatever their age).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;
use recd_types::UserId;

use crate::UserFeatures;

/// An LRU of user features with a freshness age.
pub(crate) struct UserCache {
    ttl: Duration,
    entries: Mutex<LruCache<UserId, (Instant, Arc<UserFeatures>)>>,
}

impl UserCache {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            ttl,
            entries: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The entry if it is younger than the TTL.
    pub(crate) fn fresh(&self, id: &UserId) -> Option<Arc<UserFeatures>> {
        let mut entries = self.lock();
        match entries.get(id) {
            Some((at, f)) if at.elapsed() < self.ttl => Some(f.clone()),
            _ => None,
        }
    }

    /// The entry whatever its age (for when Redis is unreachable).
    pub(crate) fn any_age(&self, id: &UserId) -> Option<Arc<UserFeatures>> {
        self.lock().get(id).map(|(_, f)| f.clone())
    }

    pub(crate) fn put(&self, features: UserFeatures) {
        let id = features.user_id.clone();
        self.lock().put(id, (Instant::now(), Arc::new(features)));
    }

    pub(crate) fn remove(&self, id: &UserId) {
        self.lock().pop(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<UserId, (Instant, Arc<UserFeatures>)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
