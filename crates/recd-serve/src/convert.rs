//! Wire shapes (`recd-api`) ↔ engine types (`recd-types`, `recd-features`), at the HTTP edge.

use recd_api::{
    ContextIn, EventIn, ItemIn, ItemOut, NegativeItemOut, QueryOut, SessionOut, UserFeaturesOut,
    UserIn, UserOut, UserVectorOut, ViewOut,
};
use recd_features::{FeatureConfig, UserFeatures};
use recd_types::{
    Context, Event, EventKind, Item, ItemId, TimestampMs, User, UserId, ValidationError,
};

use crate::ApiError;

fn required<T>(value: Option<T>, field: &'static str) -> Result<T, ValidationError> {
    value.ok_or_else(|| ValidationError::new(field, "is required"))
}

/// Below this many ms since the epoch (early 1973), a timestamp sent over HTTP is almost
/// surely in seconds: refused with a hint rather than stored as a date in 1970.
const SECONDS_NOT_MS_BELOW: TimestampMs = 100_000_000_000;

/// A request event → an engine event, validated; `received_ms` stands in for a missing time,
/// and a time more than `max_future_ms` after it is refused (a clock or unit mistake).
pub(crate) fn event(
    e: EventIn,
    received_ms: TimestampMs,
    max_future_ms: TimestampMs,
) -> Result<Event, ValidationError> {
    let kind: EventKind = required(e.kind, "type")?.parse()?;
    let user = UserId::parse(required(e.user_id, "user_id")?)?;
    let item = e.item_id.map(ItemId::parse).transpose()?;
    if let Some(t) = e.timestamp {
        if (0..SECONDS_NOT_MS_BELOW).contains(&t) {
            return Err(ValidationError::new(
                "timestamp",
                format!("{t} looks like seconds since the epoch; send milliseconds ({t}000)"),
            ));
        }
        if max_future_ms > 0 && t > received_ms.saturating_add(max_future_ms) {
            return Err(ValidationError::new(
                "timestamp",
                format!(
                    "is {} s ahead of the server's clock; at most [serve] max_future_skew_secs ({}) is accepted",
                    (t - received_ms) / 1000,
                    max_future_ms / 1000
                ),
            ));
        }
    }
    let mut event = Event::new(user, item, kind, e.timestamp.unwrap_or(received_ms));
    event.value = e.value;
    event.query = e.query;
    event.session_id = e.session_id;
    event.context = e.context.map(context).unwrap_or_default();
    event.dwell_ms = e.dwell_ms;
    event.request_id = e.request_id;
    event.event_id = e.event_id;
    event.validate()?;
    Ok(event)
}

fn context(c: ContextIn) -> Context {
    Context {
        device: c.device,
        page: c.page,
        extra: c.extra,
    }
}

/// Checks that a body `id`, if present, is the path's.
fn same_id(path_id: &str, body_id: Option<&str>) -> Result<(), ApiError> {
    match body_id {
        Some(b) if b != path_id => Err(ApiError::InvalidField {
            index: None,
            field: "id".into(),
            message: format!("body id {b:?} differs from the path's {path_id:?}"),
        }),
        _ => Ok(()),
    }
}

/// A request item → an engine item, validated.
pub(crate) fn item(id: &str, i: ItemIn) -> Result<Item, ApiError> {
    same_id(id, i.id.as_deref())?;
    let id = ItemId::parse(id).map_err(|e| ApiError::field(None, e))?;
    let title = required(i.title, "title").map_err(|e| ApiError::field(None, e))?;
    let mut item = Item::new(id, title);
    item.category = i.category;
    item.tags = i.tags;
    item.price = i.price;
    item.created_at_ms = i.created_at;
    item.available = i.available.unwrap_or(true);
    item.sponsored = i.sponsored.unwrap_or(false);
    item.attributes = i.attributes;
    item.validate().map_err(|e| ApiError::field(None, e))?;
    Ok(item)
}

/// An engine item → a response item.
pub(crate) fn item_out(i: Item) -> ItemOut {
    ItemOut {
        id: i.id.to_string(),
        title: i.title,
        category: i.category,
        tags: i.tags,
        price: i.price,
        created_at: i.created_at_ms,
        available: i.available,
        sponsored: i.sponsored,
        attributes: i.attributes,
    }
}

/// A request profile → an engine profile, validated.
pub(crate) fn user(id: &str, u: UserIn) -> Result<User, ApiError> {
    same_id(id, u.id.as_deref())?;
    let invalid = |e| ApiError::field(None, e);
    let mut user = User::new(UserId::parse(id).map_err(invalid)?);
    user.signup_ms = u.signup;
    user.country = u.country;
    user.age = u.age;
    user.gender = u
        .gender
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(invalid)?;
    user.interests = u.interests;
    user.attributes = u.attributes;
    user.validate().map_err(invalid)?;
    Ok(user)
}

/// An engine profile → a response profile.
pub(crate) fn user_out(u: User) -> UserOut {
    UserOut {
        id: u.id.to_string(),
        signup: u.signup_ms,
        country: u.country,
        age: u.age,
        gender: u.gender.map(|g| {
            match g {
                recd_types::Gender::Female => "female",
                recd_types::Gender::Male => "male",
                recd_types::Gender::Other => "other",
            }
            .to_string()
        }),
        interests: u.interests,
        attributes: u.attributes,
    }
}

/// Stored user features → the debug read-out.
pub(crate) fn features_out(
    f: UserFeatures,
    config: &FeatureConfig,
    weights: &recd_types::EventWeights,
) -> UserFeaturesOut {
    let negatives = f.negatives(weights);
    UserFeaturesOut {
        user_id: f.user_id.to_string(),
        expires_at: f.expires_at_ms(config),
        recent_views: f
            .recent_views
            .into_iter()
            .map(|v| ViewOut {
                item_id: v.value.to_string(),
                timestamp: v.timestamp_ms,
            })
            .collect(),
        recent_queries: f
            .recent_queries
            .into_iter()
            .map(|q| QueryOut {
                query: q.value,
                timestamp: q.timestamp_ms,
            })
            .collect(),
        session: f.session.map(|s| SessionOut {
            session_id: s.session_id,
            started_at: s.started_ms,
            last_event_at: s.last_event_ms,
            n_events: s.n_events,
            current_category: s.current_category,
            pages: s.pages,
            device: s.device,
        }),
        negative_items: negatives
            .into_iter()
            .map(|n| NegativeItemOut {
                item_id: n.item_id.to_string(),
                reason: n.reason.to_string(),
                timestamp: n.timestamp_ms,
            })
            .collect(),
        counts: f
            .counts
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect(),
        last_event_at: f.last_event_ms,
        last_offset: f.last_offset,
        vector: f.vector.map(|v| UserVectorOut {
            model_version: v.model_version,
            values: v.values,
            n_items: v.n_items,
            computed_at: v.computed_at_ms,
        }),
    }
}
