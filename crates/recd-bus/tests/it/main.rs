//! The buses against real servers started by the tests on loopback: redis-server for Redis
//! Streams, a Kafka-protocol broker (Tansu) for Kafka.

mod dedupe;
mod fleet_counters;
mod kafka;
mod redis_streams;
mod shared_doc;

use recd_types::{Event, EventKind, ItemId, Record, UserId};

/// A click of `user-<user>` on one of 50 items, at a time that grows with `n`.
fn event(user: usize, n: i64) -> Record {
    Record::Event(Event::new(
        UserId::parse(format!("user-{user}")).unwrap(),
        Some(ItemId::parse(format!("item-{}", n % 50)).unwrap()),
        EventKind::Click,
        1_700_000_000_000 + n,
    ))
}
