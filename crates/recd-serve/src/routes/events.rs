//! `POST /v1/events`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use recd_api::{ErrorBody, EventIn, EventsAccepted, EventsIn};

use super::{blocking, body_bytes, now_ms};
use crate::{ApiError, AppState, body, convert};

/// Records interactions: one event, an array, or NDJSON (one event per line).
///
/// All or nothing: every event is checked before any is written, and the 202 is sent only
/// once they are durable in the log. An error names the entry (`index`, 0-based) and the
/// field at fault.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "events",
    operation_id = "post_events",
    request_body(description = "One event, an array of events (JSON), or one event object per line (NDJSON).", content(
        (EventsIn = "application/json"),
        (String = "application/x-ndjson"),
    )),
    responses(
        (status = 202, description = "Durable in the event log.", body = EventsAccepted),
        (status = 400, description = "Empty body, bad JSON, or an event breaks a rule (`index` and `field` say which; with `[serve] unknown_items = \"reject\"`, an item missing from the catalog).", body = ErrorBody),
        (status = 408, description = "The body did not arrive within `[serve] body_timeout_ms` (`body_timeout`).", body = ErrorBody),
        (status = 413, description = "Over `[serve] max_body_bytes` or `max_events_per_request`.", body = ErrorBody),
        (status = 500, description = "Another internal failure (see the server log).", body = ErrorBody),
        (status = 503, description = "The events could not be made durable (`not_durable`): none was acknowledged; retry after `Retry-After` seconds.", body = ErrorBody),
    )
)]
pub(crate) async fn post(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<EventsAccepted>), ApiError> {
    let bytes = body_bytes(body, state.config.max_body_bytes)?;
    let values = body::values(&bytes)?;
    let limit = state.config.max_events_per_request;
    if values.len() > limit {
        return Err(ApiError::TooManyEvents {
            count: values.len(),
            limit,
        });
    }
    let received_ms = now_ms();
    let max_future_ms = (state.config.max_future_skew_secs as i64).saturating_mul(1000);
    let mut events = Vec::with_capacity(values.len());
    for (index, value) in values.into_iter().enumerate() {
        let wire: EventIn = body::typed(value, Some(index))?;
        let event = convert::event(wire, received_ms, max_future_ms)
            .map_err(|e| ApiError::field(Some(index), e))?;
        events.push(event);
    }
    let accepted = events.len();
    let store = state.store.clone();
    let unknown_items = state.config.unknown_items;
    let first_offset = blocking(move || {
        crate::ingest::check_items(&store, &events, unknown_items)?;
        Ok(store.append_events(events)?)
    })
    .await?;
    state.appended.send_replace(state.store.log().end_offset());
    metrics::counter!("recd_events_accepted_total").increment(accepted as u64);
    Ok((
        StatusCode::ACCEPTED,
        Json(EventsAccepted {
            accepted,
            first_offset,
        }),
    ))
}
