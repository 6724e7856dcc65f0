//! Entry points for the fuzz targets in `fuzz/` at the workspace root (feature `fuzzing`,
//! which nothing else turns on): the body and query-string readers are crate-private, and the
//! targets call them through these. Each checks what must hold for any input and panics
//! when it does not, which is how a fuzzer learns of it.

use recd_api::{EventIn, ItemIn, UserIn};

use crate::{ApiError, body, convert, routes};

/// The server's clock and allowed skew for [`event_body`].
const NOW_MS: i64 = 1_790_000_000_000;
const SKEW_MS: i64 = 86_400_000;

fn client_error(e: ApiError) {
    use axum::response::IntoResponse;
    let text = e.to_string();
    let status = e.into_response().status();
    assert!(status.is_client_error(), "{status} for a bad body: {text}");
}

/// Reads `bytes` as the body of `POST /v1/events` (JSON, array or NDJSON) and converts each
/// entry to an event, as the handler does, and as an item and a profile body: every outcome
/// must be a value or a 4xx error.
pub fn event_body(bytes: &[u8]) {
    let events: Result<Vec<_>, ApiError> = body::values(bytes).and_then(|values| {
        values
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                let wire: EventIn = body::typed(value, Some(index))?;
                convert::event(wire, NOW_MS, SKEW_MS).map_err(|e| ApiError::field(Some(index), e))
            })
            .collect()
    });
    if let Err(e) = events {
        client_error(e);
    }
    if let Err(e) = body::object::<ItemIn>(bytes) {
        client_error(e);
    }
    if let Err(e) = body::object::<UserIn>(bytes) {
        client_error(e);
    }
}

/// Reads `text` as a query string: a map or a 4xx error; a map's names are never repeated.
pub fn query_string(text: &str) {
    match routes::extract::parse_query(text) {
        Ok(params) => {
            let n_pairs = text.split('&').filter(|p| !p.is_empty()).count();
            assert_eq!(params.len(), n_pairs, "a pair was lost or merged: {text:?}");
        }
        Err(e) => client_error(e),
    }
    let _ = routes::extract::decode(text);
}
