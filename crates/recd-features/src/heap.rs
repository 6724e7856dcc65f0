//! Estimates of how much memory a feature state holds, for the embedded store's budget.
//!
//! The estimate walks the state: every string, vector and map it owns, by capacity (what was
//! allocated, not what is used: a `Vec` truncated to 5 keeps the room of the largest it grew
//! to), each allocation rounded up to the allocator's 16-byte granule. A constant per entry
//! would be wrong both ways: a new user with one view holds a few hundred bytes, a user with
//! fifty interactions and a folded-in vector a few kilobytes. Walking costs about as much as
//! the clone the updater makes of every state it changes, so it is done once per update.
//!
//! Ids (`UserId`, `ItemId`) do not expose their capacity; they are counted by length, which is
//! their capacity when they come from parsing a request or a log record.

use std::collections::BTreeMap;
use std::mem::size_of;

use crate::{
    Interaction, NegativeItem, Session, Stamped, UserFeatures, UserVector, WindowCounters,
};

/// Heap bytes owned by a value (not counting the value itself, which lives wherever its owner
/// puts it).
pub trait HeapSize {
    /// The estimate, in bytes.
    fn heap_bytes(&self) -> usize;
}

/// What the allocator hands out for a request of `bytes`: nothing for zero, else the request
/// rounded up to 16 bytes (mimalloc's and glibc's smallest granule; larger size classes waste a
/// little more, which this leaves out).
pub fn allocation(bytes: usize) -> usize {
    if bytes == 0 {
        0
    } else {
        bytes.div_ceil(16) * 16
    }
}

/// A string's heap buffer.
pub fn string(s: &str) -> usize {
    allocation(s.len())
}

/// A vector's buffer by capacity, plus what its elements own.
pub fn vec<T: HeapSize>(v: &Vec<T>) -> usize {
    allocation(v.capacity() * size_of::<T>()) + v.iter().map(HeapSize::heap_bytes).sum::<usize>()
}

/// A vector of plain values (no heap of their own).
fn plain_vec<T>(v: &Vec<T>) -> usize {
    allocation(v.capacity() * size_of::<T>())
}

/// A small `BTreeMap` of plain keys and values: std's B-tree keeps up to 11 entries in one leaf
/// node (keys and values in arrays, a parent pointer and two lengths), one more node per 11.
fn small_btree<K, V>(m: &BTreeMap<K, V>) -> usize {
    const B: usize = 11;
    let node = size_of::<usize>() + 4 + B * (size_of::<K>() + size_of::<V>());
    m.len().div_ceil(B) * allocation(node)
}

impl HeapSize for String {
    fn heap_bytes(&self) -> usize {
        allocation(self.capacity())
    }
}

impl<T: HeapSize> HeapSize for Option<T> {
    fn heap_bytes(&self) -> usize {
        self.as_ref().map_or(0, HeapSize::heap_bytes)
    }
}

impl HeapSize for recd_types::UserId {
    fn heap_bytes(&self) -> usize {
        string(self.as_str())
    }
}

impl HeapSize for recd_types::ItemId {
    fn heap_bytes(&self) -> usize {
        string(self.as_str())
    }
}

impl<T: HeapSize> HeapSize for Stamped<T> {
    fn heap_bytes(&self) -> usize {
        self.value.heap_bytes()
    }
}

impl HeapSize for NegativeItem {
    fn heap_bytes(&self) -> usize {
        self.item_id.heap_bytes()
    }
}

impl HeapSize for Interaction {
    fn heap_bytes(&self) -> usize {
        self.item_id.heap_bytes()
    }
}

impl HeapSize for Session {
    fn heap_bytes(&self) -> usize {
        self.session_id.heap_bytes()
            + self.current_category.heap_bytes()
            + vec(&self.pages)
            + self.device.heap_bytes()
    }
}

impl HeapSize for UserVector {
    fn heap_bytes(&self) -> usize {
        self.model_version.heap_bytes() + plain_vec(&self.values)
    }
}

impl HeapSize for UserFeatures {
    fn heap_bytes(&self) -> usize {
        self.user_id.heap_bytes()
            + vec(&self.recent_views)
            + vec(&self.recent_queries)
            + self.session.heap_bytes()
            + small_btree(&self.counts)
            + vec(&self.recent_interactions)
            + self.vector.heap_bytes()
    }
}

impl HeapSize for WindowCounters {
    fn heap_bytes(&self) -> usize {
        let bucket = size_of::<(i64, u64)>();
        let (minutes, hours) = self.bucket_capacities();
        allocation(minutes * bucket) + allocation(hours * bucket) + self.category.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use recd_types::{Event, EventKind, ItemId, UserId};

    use super::*;
    use crate::FeatureConfig;

    #[test]
    fn the_estimate_grows_with_what_a_user_holds() {
        let config = FeatureConfig::default();
        let id = UserId::parse("user-with-a-longish-id").unwrap();
        let mut f = UserFeatures::new(id.clone());
        let empty = f.heap_bytes();
        assert_eq!(empty, 32, "the id's 22 bytes, rounded up");
        let view = |i: usize| {
            let item = ItemId::parse(format!("item-{i}")).unwrap();
            Event::new(id.clone(), Some(item), EventKind::View, 1_000 + i as i64)
        };
        f.apply(1, &view(1), Some("books"), &config);
        let one = f.heap_bytes();
        // A view: one recent view, one interaction (each a vector of 4 after the first push),
        // a session with a category, and the counts' B-tree node.
        assert!((400..2_000).contains(&one), "{one}");
        for i in 2..200 {
            f.apply(i as u64, &view(i), None, &config);
        }
        let many = f.heap_bytes();
        let interactions = f.recent_interactions.capacity() * size_of::<Interaction>();
        assert!(many > interactions, "{many} <= {interactions}");
        assert!(many > 3 * one, "{many} vs {one}");
    }
}
