//! `POST /v1/events`: one event object, an array of them, or NDJSON (one object per line).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of `POST /v1/events` as JSON: one event, or an array of them. (NDJSON, one event
/// per line, is accepted too.) The server splits the body itself, so that an error names the
/// entry at fault; this type is the contract it follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EventsIn {
    /// One event.
    One(Box<EventIn>),
    /// Several events, accepted all or none.
    Many(Vec<EventIn>),
}

/// What an event records: the values of an event's `type`. (Documentation only: `type` stays
/// a string in [`EventIn`], so that an unknown type is reported like any other broken rule.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// Saw the item's page.
    View,
    /// Clicked it in a list.
    Click,
    /// Put it in the cart.
    AddToCart,
    /// Bought it.
    Purchase,
    /// Rated it (`value`).
    Rating,
    /// Liked it.
    Like,
    /// Disliked it (a negative signal).
    Dislike,
    /// Skipped it (a negative signal).
    Skip,
    /// Searched (`query`, no item).
    Search,
}

/// One interaction as clients send it.
///
/// Every field is optional at the JSON level so that a missing required field is reported by
/// the server with its name, like any other broken rule, instead of as a generic parse error;
/// the schema states the rules (limits mirror `recd-types`: ids 1 to 256 bytes, texts at most
/// 1024 bytes, no control characters; byte limits appear as character limits, which they
/// imply).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    /// Who acted (required).
    #[schema(value_type = String, required = true, min_length = 1, max_length = 256)]
    pub user_id: Option<String>,
    /// On what; required for every type except `search`, where it must be absent.
    #[schema(min_length = 1, max_length = 256)]
    pub item_id: Option<String>,
    /// What they did (required).
    #[serde(rename = "type")]
    #[schema(value_type = EventType, required = true)]
    pub kind: Option<String>,
    /// The rating, required for `rating` events (0.5 to 5.0), absent otherwise.
    #[schema(minimum = 0.5, maximum = 5.0)]
    pub value: Option<f32>,
    /// The search text, required for `search` events (not blank), absent otherwise.
    #[schema(min_length = 1, max_length = 1024)]
    pub query: Option<String>,
    /// When it happened, in ms since the epoch (1970 to 3000); the server's receive time if
    /// absent.
    #[schema(minimum = 0, maximum = 32_503_680_000_000_i64)]
    pub timestamp: Option<i64>,
    /// The client's session id.
    #[schema(max_length = 1024)]
    pub session_id: Option<String>,
    /// Where it happened.
    pub context: Option<ContextIn>,
    /// How long the user stayed, in ms.
    pub dwell_ms: Option<u32>,
    /// The recommendation response this event came from, for attribution.
    #[schema(max_length = 1024)]
    pub request_id: Option<String>,
    /// The client's id of this event (1 to 256 bytes, no control characters, no leading or
    /// trailing whitespace), kept in the log. An event whose id the server has seen within
    /// `[serve] dedupe_window_secs` is not appended again: it is answered as a duplicate with
    /// its original offset, so a client can retry safely.
    #[schema(min_length = 1, max_length = 256)]
    pub event_id: Option<String>,
}

/// Where an event happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextIn {
    /// Device class (`mobile`, `desktop`, `tv`, ...).
    #[schema(max_length = 1024)]
    pub device: Option<String>,
    /// Page or placement (`homepage`, `item_page`, ...).
    #[schema(max_length = 1024)]
    pub page: Option<String>,
    /// Free string pairs: at most 32, keys not empty, each text at most 1024 bytes.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

/// `202 Accepted`: the events are durable in the event log.
///
/// A retried event (its `event_id`, or its position under the batch's `Idempotency-Key`,
/// seen within the dedupe window) is a duplicate: it is acknowledged with the offset it got
/// the first time and not appended again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventsAccepted {
    /// Number of events acknowledged: all of the request's, duplicates included (or none and
    /// an error).
    pub accepted: usize,
    /// Log offset of the request's first event. Without duplicates the rest follow
    /// contiguously. Embedded log only: with a partitioned event bus a position is per
    /// partition, and this field gives way to a position token.
    pub first_offset: u64,
    /// How many of the events were duplicates of events already in the log (not appended
    /// again).
    #[serde(default)]
    pub duplicates: usize,
    /// With duplicates only: the 0-based positions in the request of the duplicate events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicate_indexes: Vec<usize>,
    /// With duplicates only: the log offset of every event of the request, in request order
    /// (a duplicate's is its original one). Embedded log only, as `first_offset`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offsets: Vec<u64>,
    /// With a partitioned event bus only (`recd serve --events ...`): where each event of the
    /// request landed, in request order (a duplicate's is its original one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub positions: Vec<PositionOut>,
}

/// Where an event is on a partitioned event bus: offsets order the records of one partition
/// (they are sparse: they do not count records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PositionOut {
    /// The partition (one per hash of the user id, so a user's events keep their order).
    pub partition: u32,
    /// The offset within the partition.
    pub offset: u64,
}
