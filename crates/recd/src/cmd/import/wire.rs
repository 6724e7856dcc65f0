//! Engine records → the request shapes of `recd-api`, for importing through a running server.
//!
//! The inverse of the server's own `convert` module: what a file row became locally is sent
//! field for field, so importing through the server stores what a local import would.

use recd_api::{ContextIn, EventIn, ItemIn, UserIn};
use recd_types::{Event, Gender, Item, User};

/// An event as the body of `POST /v1/events` carries it.
pub fn event(e: Event) -> EventIn {
    let context = e.context;
    let has_context = !context.is_empty();
    EventIn {
        user_id: Some(e.user_id.to_string()),
        item_id: e.item_id.map(|id| id.to_string()),
        kind: Some(e.kind.as_str().to_string()),
        value: e.value,
        query: e.query,
        timestamp: Some(e.timestamp_ms),
        session_id: e.session_id,
        context: has_context.then_some(ContextIn {
            device: context.device,
            page: context.page,
            extra: context.extra,
        }),
        dwell_ms: e.dwell_ms,
        request_id: e.request_id,
        event_id: e.event_id,
    }
}

/// An item as the body of `PUT /v1/items/{id}` carries it (the id goes in the path).
pub fn item(i: Item) -> ItemIn {
    ItemIn {
        id: None,
        title: Some(i.title),
        category: i.category,
        tags: i.tags,
        price: i.price,
        created_at: i.created_at_ms,
        available: Some(i.available),
        sponsored: Some(i.sponsored),
        attributes: i.attributes,
    }
}

/// A profile as the body of `PUT /v1/users/{id}` carries it (the id goes in the path).
pub fn user(u: User) -> UserIn {
    UserIn {
        id: None,
        signup: u.signup_ms,
        country: u.country,
        age: u.age,
        gender: u.gender.map(|g| {
            match g {
                Gender::Female => "female",
                Gender::Male => "male",
                Gender::Other => "other",
            }
            .to_string()
        }),
        interests: u.interests,
        attributes: u.attributes,
    }
}

/// `id` as one path segment: everything but the unreserved characters of RFC 3986 is
/// percent-encoded, so any valid id (slashes, spaces, non-ASCII) names one resource.
pub fn path_segment(id: &str) -> String {
    let mut res = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            res.push(char::from(byte));
        } else {
            res.push_str(&format!("%{byte:02X}"));
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use recd_types::{EventKind, ItemId, UserId};

    use super::*;

    #[test]
    fn ids_become_one_path_segment() {
        assert_eq!(path_segment("a-b_c.d~9"), "a-b_c.d~9");
        assert_eq!(path_segment("a/b c%"), "a%2Fb%20c%25");
        assert_eq!(path_segment("é"), "%C3%A9");
    }

    #[test]
    fn an_event_keeps_its_fields_and_drops_an_empty_context() {
        let mut e = Event::new(
            UserId::parse("u1").unwrap(),
            Some(ItemId::parse("i1").unwrap()),
            EventKind::Rating,
            5,
        );
        e.value = Some(4.0);
        let wire = event(e.clone());
        assert_eq!(wire.kind.as_deref(), Some("rating"));
        assert_eq!((wire.value, wire.timestamp), (Some(4.0), Some(5)));
        assert!(wire.context.is_none());
        e.context.page = Some("home".into());
        assert_eq!(event(e).context.unwrap().page.as_deref(), Some("home"));
    }
}
