//! `POST /v1/events`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use recd_api::{ErrorBody, EventIn, EventsAccepted, EventsIn, PositionOut};
use recd_types::{Event, Record};

use super::{blocking, body_bytes, now_ms};
use crate::{ApiError, AppState, body, convert};

/// The header naming a batch for retries.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Longest `Idempotency-Key`: short enough that `key#index` fits an event id.
const MAX_KEY_BYTES: usize = 200;

/// Records interactions: one event, an array, or NDJSON (one event per line).
///
/// All or nothing: every event is checked before any is written, and the 202 is sent only
/// once they are durable in the log. An error names the entry (`index`, 0-based) and the
/// field at fault.
///
/// Retries are safe with ids: an event whose `event_id` was seen within `[serve]
/// dedupe_window_secs` is not appended again, and the answer gives its original offset
/// (`duplicates`, `duplicate_indexes`, `offsets`). The `Idempotency-Key` header names a whole
/// batch instead: its events without an `event_id` get the id `{key}#{index}` (kept in the
/// log), so a retry of the same batch with the same key is recognised event by event. Ids
/// must be distinct within a request.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "events",
    operation_id = "post_events",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Names this batch for safe retries: 1 to 200 bytes of visible ASCII or spaces, not at either end, no `/` or `\\`, not `.` or `..`. Each event without an `event_id` gets the id `{key}#{index}`; send the same events in the same order when retrying."),
    ),
    request_body(description = "One event, an array of events (JSON), or one event object per line (NDJSON).", content(
        (EventsIn = "application/json"),
        (String = "application/x-ndjson"),
    )),
    responses(
        (status = 202, description = "Durable in the event log (duplicates: already there, not appended again).", body = EventsAccepted),
        (status = 400, description = "Empty body, bad JSON, an event breaks a rule (`index` and `field` say which), two events share an `event_id`, a bad `Idempotency-Key` (`field`: `Idempotency-Key`), or, with `[serve] unknown_items = \"reject\"`, an item missing from the catalog.", body = ErrorBody),
        (status = 408, description = "The body did not arrive within `[serve] body_timeout_ms` (`body_timeout`).", body = ErrorBody),
        (status = 413, description = "Over `[serve] max_body_bytes` or `max_events_per_request`.", body = ErrorBody),
        (status = 500, description = "Another internal failure (see the server log).", body = ErrorBody),
        (status = 503, description = "The events could not be made durable (`not_durable`): none was acknowledged; retry after `Retry-After` seconds.", body = ErrorBody),
    )
)]
pub(crate) async fn post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<EventsAccepted>), ApiError> {
    let key = idempotency_key(&headers)?;
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
        let mut wire: EventIn = body::typed(value, Some(index))?;
        if let (Some(key), None) = (&key, &wire.event_id) {
            wire.event_id = Some(format!("{key}#{index}"));
        }
        let event = convert::event(wire, received_ms, max_future_ms)
            .map_err(|e| ApiError::field(Some(index), e))?;
        events.push(event);
    }
    check_distinct_ids(&events)?;
    let accepted = events.len();
    let store = state.store.clone();
    let unknown_items = state.config.unknown_items;
    let mut events = blocking(move || {
        crate::ingest::check_items(&store, &events, unknown_items)?;
        Ok(events)
    })
    .await?;
    for i in state.bots.over_ceiling(&events) {
        events[i].flag = Some(recd_types::EventFlag::RateCeiling);
    }
    let answer = if events.iter().any(|e| e.event_id.is_some()) {
        append_once(&state, events).await?
    } else {
        let positions = append(&state, events).await?;
        EventsAccepted {
            accepted,
            first_offset: positions.first().map_or(0, |p| p.offset),
            duplicates: 0,
            duplicate_indexes: Vec::new(),
            offsets: Vec::new(),
            positions: bus_positions(&state, positions),
        }
    };
    state.appended.send_replace(state.store.log().end_offset());
    let fresh = (accepted - answer.duplicates) as u64;
    metrics::counter!("recd_events_accepted_total").increment(fresh);
    if answer.duplicates > 0 {
        metrics::counter!("recd_events_duplicate_total").increment(answer.duplicates as u64);
    }
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

/// The `Idempotency-Key` header, checked.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let bad = |message: String| ApiError::InvalidField {
        index: None,
        field: "Idempotency-Key".into(),
        message: format!("header `Idempotency-Key`: {message}"),
    };
    let key = value
        .to_str()
        .map_err(|_| bad("must be visible ASCII".into()))?;
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(bad(format!("must be 1 to {MAX_KEY_BYTES} bytes")));
    }
    // The key becomes part of event ids (`{key}#{index}`): it follows the id rules.
    recd_types::UserId::parse(key).map_err(|e| bad(e.reason))?;
    Ok(Some(key.to_string()))
}

/// Two events of one request with the same id would be one event applied once: almost
/// surely a client bug, so it is refused, naming the second.
fn check_distinct_ids(events: &[Event]) -> Result<(), ApiError> {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (index, event) in events.iter().enumerate() {
        if let Some(id) = event.event_id.as_deref()
            && let Some(earlier) = first.insert(id, index)
        {
            return Err(ApiError::InvalidField {
                index: Some(index),
                field: "event_id".into(),
                message: format!("field `event_id`: {id:?} is also the id of entry {earlier}"),
            });
        }
    }
    Ok(())
}

/// Appends `events` durably, to the data dir's log or, in a scaled deployment, to the event
/// bus, and returns where each landed (partition 0 of the embedded log).
async fn append(state: &Arc<AppState>, events: Vec<Event>) -> Result<Vec<PositionOut>, ApiError> {
    let Some(bus) = &state.bus else {
        let n = events.len() as u64;
        let store = state.store.clone();
        let first = blocking(move || Ok(store.append_events(events)?)).await?;
        return Ok((first..first + n)
            .map(|offset| PositionOut {
                partition: 0,
                offset,
            })
            .collect());
    };
    for (index, event) in events.iter().enumerate() {
        event
            .validate()
            .map_err(|source| ApiError::field(Some(index), source))?;
    }
    let records: Vec<Record> = events.into_iter().map(Record::Event).collect();
    let positions = super::durable(bus.as_ref(), bus.append(&records)).await?;
    Ok(positions
        .into_iter()
        .map(|p| PositionOut {
            partition: p.partition,
            offset: p.offset,
        })
        .collect())
}

/// The bus partition of an event (0 for the embedded log).
fn partition_of(state: &AppState, event: &Event) -> u32 {
    state.bus.as_ref().map_or(0, |bus| {
        recd_bus::partition_of(event.user_id.as_str(), bus.partitions())
    })
}

/// The `positions` field: given with a bus only (the embedded log's are `offsets`).
fn bus_positions(state: &AppState, positions: Vec<PositionOut>) -> Vec<PositionOut> {
    if state.bus.is_some() {
        positions
    } else {
        Vec::new()
    }
}

/// Appends the events whose ids the dedupe window has not seen, and answers every event of
/// the request with its offset (a duplicate's original one).
async fn append_once(
    state: &Arc<AppState>,
    events: Vec<Event>,
) -> Result<EventsAccepted, ApiError> {
    let ids = events
        .iter()
        .map(|e| Some((partition_of(state, e), e.event_id.clone()?)))
        .collect();
    let (guard, seen) = state.dedupe.claim(ids).await?;
    let n = events.len();
    let mut offsets = vec![
        PositionOut {
            partition: 0,
            offset: 0
        };
        n
    ];
    let mut is_duplicate = vec![false; n];
    for &(pos, offset) in &seen {
        offsets[pos] = PositionOut {
            partition: partition_of(state, &events[pos]),
            offset,
        };
        is_duplicate[pos] = true;
    }
    let (positions, to_append): (Vec<usize>, Vec<Event>) = events
        .into_iter()
        .enumerate()
        .filter(|(pos, _)| !is_duplicate[*pos])
        .unzip();
    if !to_append.is_empty() {
        let task_state = state.clone();
        // The append and the completion run together in a task of their own, which finishes
        // even if the client goes away: a durable append always reaches the window.
        let appended = tokio::spawn(async move {
            let appended = append(&task_state, to_append).await?;
            let mut at = vec![0; n];
            for (position, &pos) in appended.iter().zip(&positions) {
                at[pos] = position.offset;
            }
            guard.complete(|pos| at[pos]).await;
            Ok::<_, ApiError>((appended, positions))
        })
        .await
        .map_err(|e| ApiError::Internal(format!("append task: {e}")))??;
        let (appended, positions) = appended;
        for (position, pos) in appended.into_iter().zip(positions) {
            offsets[pos] = position;
        }
    }
    let duplicate_indexes: Vec<usize> = (0..n).filter(|&p| is_duplicate[p]).collect();
    let duplicates = duplicate_indexes.len();
    let first_offset = offsets.first().map_or(0, |p| p.offset);
    let positions = bus_positions(state, offsets.clone());
    Ok(EventsAccepted {
        accepted: n,
        first_offset,
        duplicates,
        offsets: if duplicates > 0 && state.bus.is_none() {
            offsets.iter().map(|p| p.offset).collect()
        } else {
            Vec::new()
        },
        duplicate_indexes,
        positions,
    })
}
