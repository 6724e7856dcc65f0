//! Extractors whose rejections are [`ApiError`]s, and the router's fallbacks.
//!
//! axum's own `Path` and `Query` rejections answer in plain text, and its default 404 and 405
//! have empty bodies. Every error of this API carries the JSON body of `recd_api::ErrorBody`,
//! so handlers take these wrappers instead and the router's fallbacks answer through
//! [`ApiError`] as well.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, OriginalUri, Path, Query};
use axum::http::Method;
use axum::http::request::Parts;

use crate::ApiError;

/// The one `{id}` segment of a path, percent-decoded.
pub(crate) struct IdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(IdPath(id)),
            Err(e) => Err(ApiError::InvalidRequest {
                message: format!("cannot read the path: {}", e.body_text()),
            }),
        }
    }
}

/// The query string as name → value (a repeated name keeps its last value). Handlers check
/// the names themselves, so an unknown parameter is refused with its name.
pub(crate) struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<HashMap<String, String>>::from_request_parts(parts, state).await {
            Ok(Query(params)) => Ok(QueryParams(params)),
            Err(e) => Err(ApiError::InvalidRequest {
                message: format!("cannot read the query string: {}", e.body_text()),
            }),
        }
    }
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
