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

/// One interaction as clients send it.
///
/// Every field is optional at the JSON level so that a missing required field is reported by
/// the server with its name, like any other broken rule, instead of as a generic parse error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    /// Who acted (required).
    pub user_id: Option<String>,
    /// On what; required for every type except `search`, where it must be absent.
    pub item_id: Option<String>,
    /// What they did: `view`, `click`, `add_to_cart`, `purchase`, `rating`, `like`,
    /// `dislike`, `skip` or `search` (required).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The rating, required for `rating` events (0.5 to 5.0), absent otherwise.
    pub value: Option<f32>,
    /// The search text, required for `search` events, absent otherwise.
    pub query: Option<String>,
    /// When it happened, in ms since the epoch; the server's receive time if absent.
    pub timestamp: Option<i64>,
    /// The client's session id.
    pub session_id: Option<String>,
    /// Where it happened.
    pub context: Option<ContextIn>,
    /// How long the user stayed, in ms.
    pub dwell_ms: Option<u32>,
    /// The recommendation response this event came from, for attribution.
    pub request_id: Option<String>,
}

/// Where an event happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextIn {
    /// Device class (`mobile`, `desktop`, `tv`, ...).
    pub device: Option<String>,
    /// Page or placement (`homepage`, `item_page`, ...).
    pub page: Option<String>,
    /// Free string pairs.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

/// `202 Accepted`: the events are durable in the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventsAccepted {
    /// Number of events accepted (all of the request's, or none and an error).
    pub accepted: usize,
    /// Log offset of the first accepted event; the rest follow contiguously.
    pub first_offset: u64,
}
