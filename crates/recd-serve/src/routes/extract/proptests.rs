//! Property tests of the strict query-string reader ([`parse_query`], [`decode`]): any text
//! gives a map or a 4xx error, never a panic; any map of UTF-8 names and values, percent-
//! encoded in any of the ways a client may, parses back to itself; a name given twice is
//! refused, however it is spelled.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::sample::select;

use super::{decode, parse_query};
use crate::ApiError;

fn config() -> ProptestConfig {
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

/// Text of up to 16 characters, weighted towards the ones a query string treats specially.
fn text() -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        4 => prop::char::range('a', 'z'),
        2 => select(vec!['%', '+', '&', '=', ' ', '#', '?', '/', '~', '\u{0}', '\u{7f}']),
        1 => any::<char>(),
    ];
    prop::collection::vec(chars, 0..16).prop_map(|c| c.into_iter().collect())
}

/// How one byte is written: as itself when the reader would take it so, or escaped as `%XX`
/// in upper or lower case; a space may also be `+`.
fn encode(text: &str, style: &[u8]) -> String {
    let mut out = String::new();
    for (b, &s) in text.bytes().zip(style.iter().cycle()) {
        let special = matches!(b, b'%' | b'+' | b'&' | b'=' | b'#') || !b.is_ascii_graphic();
        match (b, s % 4) {
            (b' ', 0) => out.push('+'),
            (_, 1) if !special => out.push(b as char),
            (_, 2) => out.push_str(&format!("%{b:02x}")),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn query_of(params: &HashMap<String, String>, style: &[u8]) -> String {
    let pairs: Vec<String> = params
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n, style), encode(v, style)))
        .collect();
    pairs.join("&")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_gives_a_map_or_a_client_error(query in text()) {
        if let Err(e) = parse_query(&query) {
            use axum::response::IntoResponse;
            prop_assert!(e.into_response().status().is_client_error());
        }
        let _ = decode(&query);
    }

    #[test]
    fn any_bytes_decode_or_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        // Whatever a client sends arrives as text after the URI parser; lossily converted
        // bytes stand in for it.
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_query(&text);
        let _ = decode(&text);
    }

    #[test]
    fn decoding_undoes_encoding(t in text(), style in prop::collection::vec(any::<u8>(), 1..8)) {
        prop_assert_eq!(decode(&encode(&t, &style).replace('+', "%20")).unwrap(), t);
    }

    #[test]
    fn encoded_maps_parse_back(
        params in prop::collection::hash_map(text(), text(), 0..6),
        style in prop::collection::vec(any::<u8>(), 1..8),
    ) {
        prop_assert_eq!(parse_query(&query_of(&params, &style)).unwrap(), params);
    }

    #[test]
    fn a_name_given_twice_is_refused(
        params in prop::collection::hash_map(text(), text(), 1..6),
        pick in any::<prop::sample::Index>(),
        value in text(),
        style in prop::collection::vec(any::<u8>(), 1..8),
        other_style in prop::collection::vec(any::<u8>(), 1..8),
    ) {
        let names: Vec<&String> = params.keys().collect();
        let name = names[pick.index(names.len())].clone();
        let query = format!(
            "{}&{}={}",
            query_of(&params, &style),
            encode(&name, &other_style),
            encode(&value, &other_style)
        );
        match parse_query(&query) {
            Err(ApiError::InvalidField { field, message, .. }) => {
                prop_assert_eq!(&field, &name);
                prop_assert!(message.contains("more than once"), "{}", message);
            }
            other => prop_assert!(false, "{query}: {:?}", other.map(|_| ())),
        }
    }
}
