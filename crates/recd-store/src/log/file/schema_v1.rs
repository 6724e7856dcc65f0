//! Record schema 1, frozen: the shape of `Record` and `Event` as the builds before event ids
//! and tombstones wrote them, so that their segments still decode.
//!
//! postcard writes no field names or tags beyond the variant index, so the old bytes decode
//! only into a type laid out exactly as the old one was. These copies must never change.
//! They reuse today's `Item`, `User`, `Context` and `EventKind`, which schema 2 did not
//! change: a build that changes one of those freezes its old shape here (and in a module for
//! schema 2) before bumping the schema again.

use recd_types::{Context, EventKind, Item, ItemId, TimestampMs, User, UserId};
use serde::Deserialize;

/// `Record` as schema 1 wrote it (no tombstone variant).
#[derive(Debug, Deserialize)]
pub(super) enum Record {
    Event(Event),
    Item { at_ms: TimestampMs, item: Item },
    User { at_ms: TimestampMs, user: User },
}

/// `Event` as schema 1 wrote it (no `event_id`).
#[derive(Debug, Deserialize)]
pub(super) struct Event {
    user_id: UserId,
    item_id: Option<ItemId>,
    kind: EventKind,
    value: Option<f32>,
    query: Option<String>,
    timestamp_ms: TimestampMs,
    session_id: Option<String>,
    context: Context,
    dwell_ms: Option<u32>,
    request_id: Option<String>,
}

impl From<Record> for recd_types::Record {
    fn from(record: Record) -> Self {
        match record {
            Record::Event(e) => recd_types::Record::Event(e.into()),
            Record::Item { at_ms, item } => recd_types::Record::Item { at_ms, item },
            Record::User { at_ms, user } => recd_types::Record::User { at_ms, user },
        }
    }
}

impl From<Event> for recd_types::Event {
    fn from(e: Event) -> Self {
        let mut event = recd_types::Event::new(e.user_id, e.item_id, e.kind, e.timestamp_ms);
        event.value = e.value;
        event.query = e.query;
        event.session_id = e.session_id;
        event.context = e.context;
        event.dwell_ms = e.dwell_ms;
        event.request_id = e.request_id;
        event
    }
}

#[cfg(test)]
pub(super) mod tests {
    use serde::Serialize;

    use super::*;

    /// The writer side of schema 1, for tests only: what an old build put on disk.
    #[derive(Serialize)]
    enum OldRecord {
        Event(OldEvent),
    }

    #[derive(Serialize)]
    struct OldEvent {
        user_id: UserId,
        item_id: Option<ItemId>,
        kind: EventKind,
        value: Option<f32>,
        query: Option<String>,
        timestamp_ms: TimestampMs,
        session_id: Option<String>,
        context: Context,
        dwell_ms: Option<u32>,
        request_id: Option<String>,
    }

    /// Schema-1 bytes of a full event.
    pub(in super::super) fn schema_1_event_bytes() -> (Vec<u8>, recd_types::Event) {
        let old = OldEvent {
            user_id: UserId::parse("u").unwrap(),
            item_id: Some(ItemId::parse("i").unwrap()),
            kind: EventKind::Click,
            value: None,
            query: None,
            timestamp_ms: 5,
            session_id: Some("s".into()),
            context: Context::default(),
            dwell_ms: Some(3),
            request_id: Some("r".into()),
        };
        let mut want = recd_types::Event::new(
            old.user_id.clone(),
            old.item_id.clone(),
            old.kind,
            old.timestamp_ms,
        );
        want.session_id = old.session_id.clone();
        want.dwell_ms = old.dwell_ms;
        want.request_id = old.request_id.clone();
        (postcard::to_allocvec(&OldRecord::Event(old)).unwrap(), want)
    }

    #[test]
    fn schema_1_events_convert_with_no_event_id() {
        let (bytes, want) = schema_1_event_bytes();
        let record: Record = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(
            recd_types::Record::from(record),
            recd_types::Record::Event(want)
        );
    }
}
