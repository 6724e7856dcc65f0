//! Property tests of request-body reading ([`values`], [`typed`], [`object`], the strict
//! duplicate-key reader) and of the event conversion (`convert::event`): any bytes are
//! answered with a value or a 4xx error, never a panic; a batch reads the same as a JSON array
//! and as NDJSON; a key given twice is always refused.
//!
//! Kept apart from `body.rs` so that changes to the reader and to these tests merge apart.

use proptest::prelude::*;
use proptest::sample::select;
use recd_api::{ContextIn, EventIn, ItemIn, UserIn};
use recd_types::{Event, EventKind, ItemId, TimestampMs, UserId};

use super::{object, typed, values};
use crate::{ApiError, convert};

/// The server's clock in these tests, and its allowed skew (the default `max_future_skew_secs`
/// is one day).
const NOW_MS: TimestampMs = 1_790_000_000_000;
const SKEW_MS: TimestampMs = 86_400_000;

fn config() -> ProptestConfig {
    // 256 cases keep each property well under a second in a debug build.
    // PROPTEST_CASES overrides it for a longer run by hand.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// What a body turns into on the events route: each entry typed and converted, as
/// `routes::events::post` does before it writes anything.
fn events_of(bytes: &[u8]) -> Result<Vec<Event>, ApiError> {
    values(bytes)?
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            let wire: EventIn = typed(value, Some(index))?;
            convert::event(wire, NOW_MS, SKEW_MS).map_err(|e| ApiError::field(Some(index), e))
        })
        .collect()
}

fn assert_client_error(e: ApiError) {
    use axum::response::IntoResponse;
    let text = e.to_string();
    let status = e.into_response().status();
    assert!(status.is_client_error(), "{status} for {text}");
}

/// Bytes that look like JSON often enough to get past the first character: tokens of event
/// bodies, glued at random.
fn json_soup() -> impl Strategy<Value = Vec<u8>> {
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\n",
        " ",
        "\"",
        "\\",
        "\\u00",
        "\"user_id\"",
        "\"item_id\"",
        "\"type\"",
        "\"value\"",
        "\"query\"",
        "\"timestamp\"",
        "\"context\"",
        "\"extra\"",
        "\"device\"",
        "\"dwell_ms\"",
        "\"u1\"",
        "\"i1\"",
        "\"view\"",
        "\"rating\"",
        "\"search\"",
        "1",
        "-1",
        "4.5",
        "1e400",
        "1790000000000",
        "null",
        "true",
        "\"\"",
        "\"a/b\"",
        "\"..\"",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "\u{202e}",
        "\u{ff}",
    ];
    prop::collection::vec(select(TOKENS), 0..40).prop_map(|t| t.concat().into_bytes())
}

/// A string of 1 to 12 characters from a mix of ASCII, Latin-1, CJK and emoji, which
/// [`UserId::parse`] mostly accepts (the filter drops the rest: surrounding spaces, `.`).
fn id_text() -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        prop::char::range('a', 'z'),
        prop::char::range('0', '9'),
        select(vec!['-', '_', '.', ' ', ':', '@', '"', '{', '%', '+']),
        prop::char::range('\u{e0}', '\u{ff}'),
        prop::char::range('\u{4e00}', '\u{4e20}'),
        prop::char::range('\u{1f600}', '\u{1f610}'),
    ];
    prop::collection::vec(chars, 1..12)
        .prop_map(|c| c.into_iter().collect::<String>())
        .prop_filter("a valid id", |s| UserId::parse(s.as_str()).is_ok())
}

/// Free text of up to 20 printable characters (tab allowed, as `check_text` allows it).
fn text() -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        prop::char::range(' ', '~'),
        Just('\t'),
        prop::char::range('\u{e0}', '\u{ff}'),
    ];
    prop::collection::vec(chars, 0..20).prop_map(|c| c.into_iter().collect())
}

/// An event that the server accepts: the rules of `recd_types::Event::validate` and
/// `convert::event` followed on purpose.
fn valid_event() -> impl Strategy<Value = EventIn> {
    (
        id_text(),
        id_text(),
        select(EventKind::ALL.to_vec()),
        // Whole tenths: a rating is a short decimal in JSON, as clients send it.
        (5u32..=50).prop_map(|tenths| tenths as f32 / 10.0),
        text().prop_filter("not blank", |q| !q.trim().is_empty()),
        prop::option::of(100_000_000_000i64..=NOW_MS + SKEW_MS),
        prop::option::of(text()),
        prop::option::of((
            prop::option::of(text()),
            prop::collection::btree_map(id_text(), text(), 0..3),
        )),
        prop::option::of(any::<u32>()),
    )
        .prop_map(
            |(user, item, kind, rating, query, timestamp, session, context, dwell)| EventIn {
                user_id: Some(user),
                item_id: (kind != EventKind::Search).then_some(item),
                kind: Some(kind.as_str().to_string()),
                value: (kind == EventKind::Rating).then_some(rating),
                query: (kind == EventKind::Search).then_some(query),
                timestamp,
                session_id: session,
                context: context.map(|(device, extra)| ContextIn {
                    device,
                    page: None,
                    extra,
                }),
                dwell_ms: dwell,
                request_id: None,
                event_id: None,
            },
        )
}

/// `key` as a JSON string with each character of the JSON string `key` written either as itself or as a
/// `\uXXXX` escape: both spell the same key once decoded.
fn escaped(key: &str, escape: &[bool]) -> String {
    let mut out = String::from("\"");
    for (c, &e) in key.chars().zip(escape.iter().cycle()) {
        if e && (c as u32) < 0x10000 {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            let plain = serde_json::to_string(&c.to_string()).unwrap();
            out.push_str(&plain[1..plain.len() - 1]);
        }
    }
    out.push('"');
    out
}

/// The JSON text of `event` with its `n`-th key given a second time, before the first.
fn with_duplicate(event: &EventIn, n: usize, escape: &[bool]) -> (String, String) {
    let value = serde_json::to_value(event).unwrap();
    let object = value.as_object().unwrap();
    let keys: Vec<&String> = object.keys().collect();
    let key = keys[n % keys.len()].clone();
    let body = serde_json::to_string(object).unwrap();
    let text = format!("{{{}:0,{}", escaped(&key, escape), &body[1..]);
    (key, text)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_give_events_or_a_client_error(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Err(e) = events_of(&bytes) {
            assert_client_error(e);
        }
    }

    #[test]
    fn json_like_bytes_give_events_or_a_client_error(bytes in json_soup()) {
        if let Err(e) = events_of(&bytes) {
            assert_client_error(e);
        }
    }

    #[test]
    fn single_objects_give_a_value_or_a_client_error(bytes in json_soup()) {
        if let Err(e) = object::<ItemIn>(&bytes) {
            assert_client_error(e);
        }
        if let Err(e) = object::<UserIn>(&bytes) {
            assert_client_error(e);
        }
    }

    #[test]
    fn valid_events_read_alike_as_array_and_ndjson(events in prop::collection::vec(valid_event(), 1..6)) {
        let array = serde_json::to_string(&events).unwrap();
        let ndjson: Vec<String> = events.iter().map(|e| serde_json::to_string(e).unwrap()).collect();
        let from_array = events_of(array.as_bytes()).unwrap();
        let from_ndjson = events_of(ndjson.join("\n").as_bytes()).unwrap();
        prop_assert_eq!(&from_array, &from_ndjson);
        // Pretty-printed, with CRLF line ends between the objects, reads the same too.
        let pretty: Vec<String> = events.iter().map(|e| serde_json::to_string_pretty(e).unwrap()).collect();
        prop_assert_eq!(&events_of(pretty.join("\r\n").as_bytes()).unwrap(), &from_array);
        for (wire, event) in events.iter().zip(&from_array) {
            prop_assert_eq!(Some(event.user_id.as_str()), wire.user_id.as_deref());
            prop_assert_eq!(event.item_id.as_ref().map(ItemId::as_str), wire.item_id.as_deref());
            prop_assert_eq!(Some(event.kind.as_str()), wire.kind.as_deref());
            prop_assert_eq!(event.value, wire.value);
            prop_assert_eq!(&event.query, &wire.query);
            prop_assert_eq!(event.timestamp_ms, wire.timestamp.unwrap_or(NOW_MS));
            prop_assert_eq!(&event.session_id, &wire.session_id);
            prop_assert_eq!(event.dwell_ms, wire.dwell_ms);
        }
    }

    #[test]
    fn one_object_reads_as_an_array_of_one(event in valid_event()) {
        let one = serde_json::to_string(&event).unwrap();
        let array = serde_json::to_string(&[&event]).unwrap();
        prop_assert_eq!(events_of(one.as_bytes()).unwrap(), events_of(array.as_bytes()).unwrap());
    }

    #[test]
    fn a_key_given_twice_is_refused(
        events in prop::collection::vec(valid_event(), 1..4),
        which in any::<prop::sample::Index>(),
        n in any::<usize>(),
        escape in prop::collection::vec(any::<bool>(), 1..8),
    ) {
        let at = which.index(events.len());
        let (key, doubled) = with_duplicate(&events[at], n, &escape);
        let mut entries: Vec<String> = events.iter().map(|e| serde_json::to_string(e).unwrap()).collect();
        entries[at] = doubled.clone();
        let needle = format!("the key {key:?} appears twice");
        for body in [format!("[{}]", entries.join(",")), entries.join("\n")] {
            match values(body.as_bytes()) {
                Err(ApiError::InvalidJson { message, .. }) => {
                    prop_assert!(message.contains(&needle), "{message}");
                }
                other => prop_assert!(false, "{body}: {other:?}"),
            }
        }
        match object::<EventIn>(doubled.as_bytes()) {
            Err(ApiError::InvalidJson { message, .. }) => prop_assert!(message.contains(&needle)),
            other => prop_assert!(false, "{doubled}: {other:?}"),
        }
    }

    #[test]
    fn a_key_given_twice_inside_context_is_refused(event in valid_event(), key in id_text()) {
        let mut value = serde_json::to_value(&event).unwrap();
        value["context"] = serde_json::json!({ "extra": {} });
        let body = serde_json::to_string(&value).unwrap();
        let inner = serde_json::to_string(&key).unwrap();
        let doubled = body.replace("\"extra\":{}", &format!("\"extra\":{{{inner}:\"a\",{inner}:\"b\"}}"));
        let refused = matches!(values(doubled.as_bytes()), Err(ApiError::InvalidJson { .. }));
        prop_assert!(refused, "{}", doubled);
    }
}

#[test]
fn escaped_keys_are_the_same_key() {
    assert_eq!(escaped("ab", &[true, false]), "\"\\u0061b\"");
    let (key, text) = with_duplicate(
        &EventIn {
            user_id: Some("u".into()),
            ..EventIn::default()
        },
        0,
        &[true],
    );
    // `serde_json::Map` keeps its keys sorted: the first of `context` .. `user_id`.
    assert_eq!(key, "context");
    assert!(text.starts_with("{\"\\u0063\\u006f"), "{text}");
    assert!(matches!(
        values(text.as_bytes()),
        Err(ApiError::InvalidJson { .. })
    ));
}
