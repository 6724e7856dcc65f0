//! User interaction events and the rules they must satisfy.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{ItemId, TimestampMs, UserId, ValidationError};

/// Lowest rating value accepted (MovieLens uses half stars from 0.5).
pub const RATING_MIN: f32 = 0.5;
/// Highest rating value accepted.
pub const RATING_MAX: f32 = 5.0;
/// Latest timestamp accepted: 3000-01-01. Anything later is a unit mistake (µs or ns for ms).
const TIMESTAMP_MAX_MS: TimestampMs = 32_503_680_000_000;
/// Longest free-text field (session id, request id, query, context values), in bytes.
const MAX_TEXT_BYTES: usize = 1024;
/// Most free context pairs per event; context is a hint, not a document store.
const MAX_CONTEXT_PAIRS: usize = 32;

/// What the user did. The set is closed: each kind has a meaning for training and features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The user saw an item's page or card long enough to count.
    View,
    /// The user clicked an item.
    Click,
    /// The user put an item in the cart.
    AddToCart,
    /// The user bought an item.
    Purchase,
    /// The user rated an item; [`Event::value`] holds the rating.
    Rating,
    /// Explicit thumbs-up.
    Like,
    /// Explicit thumbs-down: a negative signal.
    Dislike,
    /// The user skipped an item that was shown: a weak negative signal.
    Skip,
    /// The user searched; [`Event::query`] holds the text and there is no item.
    Search,
}

impl EventKind {
    /// Every kind, in declaration order (stable: used as a column index in counters).
    pub const ALL: [EventKind; 9] = [
        EventKind::View,
        EventKind::Click,
        EventKind::AddToCart,
        EventKind::Purchase,
        EventKind::Rating,
        EventKind::Like,
        EventKind::Dislike,
        EventKind::Skip,
        EventKind::Search,
    ];

    /// The name used in every input format and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::View => "view",
            EventKind::Click => "click",
            EventKind::AddToCart => "add_to_cart",
            EventKind::Purchase => "purchase",
            EventKind::Rating => "rating",
            EventKind::Like => "like",
            EventKind::Dislike => "dislike",
            EventKind::Skip => "skip",
            EventKind::Search => "search",
        }
    }

    /// Position in [`EventKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                ValidationError::new(
                    "type",
                    format!(
                        "unknown event type {s:?}; expected one of {}",
                        names.join(", ")
                    ),
                )
            })
    }
}

/// Where the event happened. Kept small: the online layer uses device and page for context
/// features; free pairs are carried along for analysis and export.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// Device class as the client names it (`mobile`, `desktop`, `tv`, ...).
    pub device: Option<String>,
    /// Page or placement the event came from (`homepage`, `item_page`, ...).
    pub page: Option<String>,
    /// Free string pairs.
    pub extra: BTreeMap<String, String>,
}

impl Context {
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.device.is_none() && self.page.is_none() && self.extra.is_empty()
    }
}

/// One user interaction, as stored in the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Who acted.
    pub user_id: UserId,
    /// On what; absent exactly for [`EventKind::Search`].
    pub item_id: Option<ItemId>,
    /// What they did.
    pub kind: EventKind,
    /// The rating, present exactly for [`EventKind::Rating`], in `RATING_MIN..=RATING_MAX`.
    pub value: Option<f32>,
    /// The search text, present exactly for [`EventKind::Search`].
    pub query: Option<String>,
    /// When, in ms since the epoch.
    pub timestamp_ms: TimestampMs,
    /// The client's session id, if it has one.
    pub session_id: Option<String>,
    /// Device, page and free pairs.
    pub context: Context,
    /// How long the user stayed, in ms (short dwell is a weak negative signal).
    pub dwell_ms: Option<u32>,
    /// The recommendation response this event came from, for attribution.
    pub request_id: Option<String>,
    /// The client's id of this event, so that a retried event is applied once (record
    /// schema 2; schema 1 records have none). Validated like a user or item id.
    pub event_id: Option<String>,
    /// Set by the server at ingest, never by clients: why the event looks like no person's
    /// (record schema 2). A flagged event stays in the log; training and trending leave it out.
    pub flag: Option<EventFlag>,
}

/// Why an event was flagged at ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventFlag {
    /// Its user produced events faster than `[serve.bots] max_events_per_user_per_min`.
    RateCeiling,
}

impl Event {
    /// A bare event: the fields every format has. Optional fields start empty.
    pub fn new(
        user_id: UserId,
        item_id: Option<ItemId>,
        kind: EventKind,
        timestamp_ms: TimestampMs,
    ) -> Self {
        Self {
            user_id,
            item_id,
            kind,
            value: None,
            query: None,
            timestamp_ms,
            session_id: None,
            context: Context::default(),
            dwell_ms: None,
            request_id: None,
            event_id: None,
            flag: None,
        }
    }

    /// Whether the batch and speed layers should learn from this event (it is not flagged).
    pub fn is_trusted(&self) -> bool {
        self.flag.is_none()
    }

    /// Checks every rule of an event; the error names the first field that breaks one.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.user_id.validate()?;
        match (&self.item_id, self.kind) {
            (Some(_), EventKind::Search) => {
                return Err(ValidationError::new(
                    "item_id",
                    "must be absent for a search event",
                ));
            }
            (None, kind) if kind != EventKind::Search => {
                return Err(ValidationError::new(
                    "item_id",
                    format!("is required for a {kind} event"),
                ));
            }
            (Some(item), _) => item.validate()?,
            (None, _) => {}
        }
        match (self.value, self.kind) {
            (None, EventKind::Rating) => {
                return Err(ValidationError::new(
                    "value",
                    "is required for a rating event",
                ));
            }
            (Some(v), EventKind::Rating) if !(RATING_MIN..=RATING_MAX).contains(&v) => {
                return Err(ValidationError::new(
                    "value",
                    format!("rating {v} is outside {RATING_MIN}..={RATING_MAX}"),
                ));
            }
            (Some(_), kind) if kind != EventKind::Rating => {
                return Err(ValidationError::new(
                    "value",
                    format!("is only allowed on rating events, not {kind}"),
                ));
            }
            _ => {}
        }
        match (&self.query, self.kind) {
            (None, EventKind::Search) => {
                return Err(ValidationError::new(
                    "query",
                    "is required for a search event",
                ));
            }
            (Some(q), EventKind::Search) if q.trim().is_empty() => {
                return Err(ValidationError::new("query", "must not be blank"));
            }
            (Some(_), kind) if kind != EventKind::Search => {
                return Err(ValidationError::new(
                    "query",
                    format!("is only allowed on search events, not {kind}"),
                ));
            }
            _ => {}
        }
        if !(0..=TIMESTAMP_MAX_MS).contains(&self.timestamp_ms) {
            return Err(ValidationError::new(
                "timestamp",
                format!(
                    "{} ms is outside 1970..3000 (is it in µs or ns?)",
                    self.timestamp_ms
                ),
            ));
        }
        check_text("query", self.query.as_deref())?;
        check_text("session_id", self.session_id.as_deref())?;
        check_text("request_id", self.request_id.as_deref())?;
        if let Some(id) = &self.event_id {
            crate::ids::check_id("event_id", id)?;
        }
        self.validate_context()
    }

    fn validate_context(&self) -> Result<(), ValidationError> {
        check_text("context.device", self.context.device.as_deref())?;
        check_text("context.page", self.context.page.as_deref())?;
        if self.context.extra.len() > MAX_CONTEXT_PAIRS {
            return Err(ValidationError::new(
                "context",
                format!("more than {MAX_CONTEXT_PAIRS} pairs"),
            ));
        }
        for (k, v) in &self.context.extra {
            if k.is_empty() {
                return Err(ValidationError::new("context", "has an empty key"));
            }
            check_text("context", Some(k))?;
            check_text("context", Some(v))?;
        }
        Ok(())
    }
}

/// Free text must be bounded and free of control characters other than tab.
pub(crate) fn check_text(field: &'static str, text: Option<&str>) -> Result<(), ValidationError> {
    let Some(text) = text else { return Ok(()) };
    if text.len() > MAX_TEXT_BYTES {
        return Err(ValidationError::new(
            field,
            format!("longer than {MAX_TEXT_BYTES} bytes"),
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ValidationError::new(field, "contains a control character"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> Event {
        Event::new(
            UserId::parse("u1").unwrap(),
            Some(ItemId::parse("i1").unwrap()),
            EventKind::View,
            1_700_000_000_000,
        )
    }

    fn field_of(e: &Event) -> &'static str {
        e.validate().unwrap_err().field
    }

    #[test]
    fn a_plain_view_is_valid() {
        view().validate().unwrap();
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>().unwrap(), kind);
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        assert_eq!("watch".parse::<EventKind>().unwrap_err().field, "type");
    }

    #[test]
    fn rating_needs_a_value_in_range() {
        let mut e = view();
        e.kind = EventKind::Rating;
        assert_eq!(field_of(&e), "value");
        e.value = Some(5.5);
        assert_eq!(field_of(&e), "value");
        e.value = Some(f32::NAN);
        assert_eq!(field_of(&e), "value");
        e.value = Some(0.5);
        e.validate().unwrap();
        let mut v = view();
        v.value = Some(3.0);
        assert_eq!(field_of(&v), "value");
    }

    #[test]
    fn search_has_a_query_and_no_item() {
        let mut e = view();
        e.kind = EventKind::Search;
        assert_eq!(field_of(&e), "item_id");
        e.item_id = None;
        assert_eq!(field_of(&e), "query");
        e.query = Some("  ".into());
        assert_eq!(field_of(&e), "query");
        e.query = Some("star wars".into());
        e.validate().unwrap();
        let mut v = view();
        v.item_id = None;
        assert_eq!(field_of(&v), "item_id");
    }

    #[test]
    fn timestamps_in_the_wrong_unit_are_caught() {
        let mut e = view();
        e.timestamp_ms = 1_700_000_000_000_000;
        assert_eq!(field_of(&e), "timestamp");
        e.timestamp_ms = -1;
        assert_eq!(field_of(&e), "timestamp");
    }

    #[test]
    fn event_ids_follow_the_id_rules() {
        let mut e = view();
        e.event_id = Some("e-1".into());
        e.validate().unwrap();
        for bad in ["", " e", "a\nb"] {
            e.event_id = Some(bad.into());
            assert_eq!(field_of(&e), "event_id", "{bad:?}");
        }
        e.event_id = Some("x".repeat(crate::MAX_ID_BYTES + 1));
        assert_eq!(field_of(&e), "event_id");
    }

    #[test]
    fn context_is_bounded() {
        let mut e = view();
        e.context.device = Some("a\nb".into());
        assert_eq!(field_of(&e), "context.device");
        e.context.device = None;
        for i in 0..=MAX_CONTEXT_PAIRS {
            e.context.extra.insert(format!("k{i}"), "v".into());
        }
        assert_eq!(field_of(&e), "context");
    }
}
