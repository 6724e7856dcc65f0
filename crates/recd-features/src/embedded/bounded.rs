//! A sharded map that keeps within a byte budget by dropping its least recently used entries.
//!
//! Each shard is an LRU list under its own `Mutex` and owns an equal slice of the budget. Why
//! this shape:
//! - One global LRU order would need one lock (or a concurrent list) touched by every read:
//!   reads happen on every recommendation, and today they only take their key's shard lock.
//! - Sampled eviction (as Redis does: look at a few entries, drop the oldest) needs random
//!   access into the map, which `HashMap` does not offer without a second index.
//! - Per shard, an exact LRU costs one list relink under the lock the read already holds. Keys
//!   are spread by a random hash, so every shard sees the same mix of users, and its least
//!   recently used entry is among the least recently used overall: the eviction order is an
//!   approximation of a global LRU, and the sum of the shards' usage never passes the budget.
//!
//! Every entry is charged its key's and value's [`HeapSize`] plus what the map spends on it
//! (the list node holding key and value, and the index's slots); the charge is remembered with
//! the entry so that removing it gives back exactly what inserting it took.

use std::hash::{BuildHasher, Hash, RandomState};
use std::mem::size_of;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use lru::LruCache;

use crate::heap::{HeapSize, allocation};

/// One shard: the entries in LRU order and the bytes they are charged.
struct Shard<K, V> {
    entries: LruCache<K, (V, usize)>,
    used: usize,
}

/// The sharded, byte-bounded LRU map.
pub(crate) struct BoundedMap<K, V> {
    hasher: RandomState,
    shards: Vec<Mutex<Shard<K, V>>>,
    /// Each shard's slice of the budget.
    shard_budget: usize,
    budget: usize,
    /// Sum of the shards' `used`, kept for the gauge so that reading it takes no lock.
    used: AtomicUsize,
}

impl<K: Hash + Eq + HeapSize, V: HeapSize> BoundedMap<K, V> {
    /// An empty map of `n_shards` shards sharing `budget` bytes.
    pub fn new(n_shards: usize, budget: usize) -> Self {
        let n_shards = n_shards.max(1);
        Self {
            hasher: RandomState::new(),
            shards: (0..n_shards)
                .map(|_| {
                    Mutex::new(Shard {
                        entries: LruCache::unbounded(),
                        used: 0,
                    })
                })
                .collect(),
            shard_budget: budget / n_shards,
            budget,
            used: AtomicUsize::new(0),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> MutexGuard<'_, Shard<K, V>> {
        let i = (self.hasher.hash_one(key) % self.shards.len() as u64) as usize;
        lock(&self.shards[i])
    }

    /// Reads `key`'s value through `f` and marks it used. `f` runs under the shard's lock.
    pub fn read<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard(key).entries.get(key).map(|(v, _)| f(v))
    }

    /// Inserts or replaces `key`'s value, then drops least recently used entries of its shard
    /// until the shard is within its budget (the new entry last, if it alone is too large).
    /// Returns how many entries were dropped.
    pub fn insert(&self, key: K, value: V) -> usize {
        let charge = entry_bytes(&key, &value);
        let mut shard = self.shard(&key);
        let mut freed = shard
            .entries
            .put(key, (value, charge))
            .map_or(0, |(_, old)| old);
        let mut evicted = 0;
        // `freed` only ever holds charges that are in `used` or are `charge`: no underflow.
        while shard.used + charge - freed > self.shard_budget {
            let Some((_, (_, c))) = shard.entries.pop_lru() else {
                break;
            };
            freed += c;
            evicted += 1;
        }
        shard.used = shard.used + charge - freed;
        drop(shard);
        self.account(charge, freed);
        evicted
    }

    /// Removes `key`'s entry, giving back its charge; false if there was none.
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut shard = self.shard(key);
        let Some((_, charge)) = shard.entries.pop(key) else {
            return false;
        };
        shard.used -= charge;
        drop(shard);
        self.account(0, charge);
        true
    }

    /// Keeps only the entries for which `keep` is true; returns how many were dropped.
    pub fn retain(&self, mut keep: impl FnMut(&V) -> bool) -> usize
    where
        K: Clone,
    {
        let mut dropped = 0;
        for shard in &self.shards {
            let mut shard = lock(shard);
            let gone: Vec<K> = shard
                .entries
                .iter()
                .filter(|(_, (v, _))| !keep(v))
                .map(|(k, _)| k.clone())
                .collect();
            let mut freed = 0;
            for k in &gone {
                if let Some((_, c)) = shard.entries.pop(k) {
                    freed += c;
                }
            }
            shard.used -= freed;
            drop(shard);
            self.account(0, freed);
            dropped += gone.len();
        }
        dropped
    }

    /// Calls `f` on every entry, shard by shard, without changing their order.
    pub fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for shard in &self.shards {
            for (k, (v, _)) in lock(shard).entries.iter() {
                f(k, v);
            }
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).entries.len()).sum()
    }

    /// Bytes the entries are charged.
    pub fn used_bytes(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The budget.
    pub fn budget_bytes(&self) -> usize {
        self.budget
    }

    fn account(&self, added: usize, freed: usize) {
        if added >= freed {
            self.used.fetch_add(added - freed, Ordering::Relaxed);
        } else {
            self.used.fetch_sub(freed - added, Ordering::Relaxed);
        }
    }
}

/// What one entry costs: what key and value own, the list node that holds them (with its two
/// links, and the charge), and the index's share: a slot of two pointers and a control byte,
/// twice over, since the index grows by doubling once 7/8 full and so is between 44 % and 88 %
/// full.
fn entry_bytes<K: HeapSize, V: HeapSize>(key: &K, value: &V) -> usize {
    let node = size_of::<K>() + size_of::<V>() + size_of::<usize>() * 3;
    let slot = 2 * (2 * size_of::<usize>() + 1);
    key.heap_bytes() + value.heap_bytes() + allocation(node) + slot
}

/// Locks, ignoring poisoning: every update replaces whole values, so a panic in another
/// holder cannot leave a half-written state behind.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    impl HeapSize for u64 {
        fn heap_bytes(&self) -> usize {
            0
        }
    }

    #[test]
    fn stays_within_its_budget_and_drops_the_least_recently_used() {
        let per_entry = entry_bytes(&String::from("k000"), &0u64);
        let map: BoundedMap<String, u64> = BoundedMap::new(1, 10 * per_entry);
        let mut evicted = 0;
        for i in 0..10u64 {
            evicted += map.insert(format!("k{i:03}"), i);
        }
        assert_eq!((map.len(), evicted), (10, 0));
        // Reading k000 makes k001 the least recently used.
        assert_eq!(map.read("k000", |v| *v), Some(0));
        assert_eq!(map.insert("k010".into(), 10), 1);
        assert!(map.read("k001", |_| ()).is_none());
        assert!(map.read("k000", |_| ()).is_some());
        assert_eq!(map.used_bytes(), 10 * per_entry);
        // Replacing a value charges the difference, not a second entry.
        assert_eq!(map.insert("k000".into(), 1), 0);
        assert_eq!(map.used_bytes(), 10 * per_entry);
        assert_eq!(map.retain(|v| *v >= 5), 4);
        assert_eq!(map.used_bytes(), 6 * per_entry);
        // A removed entry gives its charge back.
        assert!(map.remove("k009"));
        assert!(!map.remove("k009"));
        assert_eq!((map.len(), map.used_bytes()), (5, 5 * per_entry));
    }

    #[test]
    fn an_entry_larger_than_the_budget_is_not_kept() {
        let map: BoundedMap<String, u64> = BoundedMap::new(1, 8);
        assert_eq!(map.insert("k".into(), 1), 1);
        assert_eq!((map.len(), map.used_bytes()), (0, 0));
    }
}
