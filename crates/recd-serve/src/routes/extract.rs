//! Extractors whose rejections are [`ApiError`]s, and the router's fallbacks.
//!
//! axum's own `Path` and `Query` rejections answer in plain text, and its default 404 and 405
//! have empty bodies. Every error of this API carries the JSON body of `recd_api::ErrorBody`,
//! so handlers take these wrappers instead and the router's fallbacks answer through
//! [`ApiError`] as well.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, OriginalUri, Path};
use axum::http::Method;
use axum::http::request::Parts;

use crate::ApiError;

/// The one `{id}` segment of a path, percent-decoded.
pub(crate) struct IdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // axum decodes a malformed escape (`%zz`) as the literal text; refuse it instead.
        decode(parts.uri.path()).map_err(|e| ApiError::InvalidRequest {
            message: format!("cannot read the path: {e}"),
        })?;
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(IdPath(id)),
            Err(e) => Err(ApiError::InvalidRequest {
                message: format!("cannot read the path: {}", e.body_text()),
            }),
        }
    }
}

/// The query string as name → value. A repeated name is refused (which of two values was
/// meant cannot be guessed), and so is a malformed or non-UTF-8 escape (it would otherwise be
/// replaced by U+FFFD and read as some other id). Handlers check the names themselves, so an
/// unknown parameter is refused with its name.
pub(crate) struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(QueryParams)
    }
}

/// Parses `application/x-www-form-urlencoded` query text strictly.
pub(crate) fn parse_query(query: &str) -> Result<HashMap<String, String>, ApiError> {
    let mut params = HashMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(&name.replace('+', " ")).map_err(|e| ApiError::InvalidRequest {
            message: format!("cannot read the query string: {e}"),
        })?;
        let value = decode(&value.replace('+', " ")).map_err(|e| ApiError::InvalidField {
            index: None,
            field: name.clone(),
            message: e,
        })?;
        if params.contains_key(&name) {
            return Err(ApiError::InvalidField {
                index: None,
                message: format!("parameter {name:?} is given more than once"),
                field: name,
            });
        }
        params.insert(name, value);
    }
    Ok(params)
}

/// Percent-decodes `text`, refusing a `%` not followed by two hex digits and bytes that are
/// not UTF-8.
pub(crate) fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => out.push(b),
                None => {
                    return Err(format!(
                        "a `%` at byte {i} is not followed by two hex digits"
                    ));
                }
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-escapes that are not UTF-8".to_string())
}

/// A parameter that must be an integer in `range`; `None` when absent.
pub(crate) fn int_param(
    params: &HashMap<String, String>,
    field: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ApiError> {
    let Some(v) = params.get(field) else {
        return Ok(None);
    };
    v.parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .map(Some)
        .ok_or_else(|| ApiError::InvalidField {
            index: None,
            field: field.to_string(),
            message: format!(
                "{v:?} is not a number from {} to {}",
                range.start(),
                range.end()
            ),
        })
}

/// Refuses a parameter outside `known`, naming it.
pub(crate) fn only_known(params: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(p) => Err(ApiError::InvalidField {
            index: None,
            field: p.clone(),
            message: format!("unknown parameter {p:?}; expected {}", known.join(", ")),
        }),
    }
}

/// 404 for a path no route has.
pub(crate) async fn no_such_route(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::NoSuchRoute {
        path: uri.path().to_string(),
    }
}

/// 405 for a route asked with a method it does not have (axum adds the `Allow` header).
pub(crate) async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_read_strictly() {
        let p = parse_query("user_id=a%20b&n=3&x=caf%C3%A9+au+lait").unwrap();
        assert_eq!(p["user_id"], "a b");
        assert_eq!(p["x"], "café au lait");
        let field = |q: &str| match parse_query(q) {
            Err(ApiError::InvalidField { field, .. }) => field,
            other => panic!("{q}: {:?}", other.map(|_| ())),
        };
        assert_eq!(field("user_id=a&user_id=b"), "user_id");
        assert_eq!(field("user_id=%FF"), "user_id");
        assert_eq!(field("user_id=%zz"), "user_id");
        assert_eq!(field("user_id=%4"), "user_id");
        assert!(matches!(
            parse_query("%ZZ=1"),
            Err(ApiError::InvalidRequest { .. })
        ));
        assert!(parse_query("").unwrap().is_empty());
    }
}
