//! `POST /v1/admin/log/compact`: the server deletes the oldest segments of a log it writes,
//! beside its writers (the same rules as `[store.retention]` and `recd log compact`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use recd_api::{ErrorBody, LogCompactIn, LogCompactOut, LogNameIn};
use recd_store::retention::{CompactRequest, LogName};

use crate::routes::{blocking, body_bytes, now_ms};
use crate::{ApiError, AppState, body};

/// Deletes the oldest closed segments of the event or impressions log whose newest record is
/// older than `older_than_secs`: event segments only once an export holds them
/// (`exported_to`) or when told to discard them. Appends and reads go on meanwhile; offsets
/// never change, and the items and users of deleted segments stay in the log's catalog
/// snapshot.
#[utoipa::path(
    post,
    path = "/v1/admin/log/compact",
    tag = "admin",
    operation_id = "compact_log",
    request_body = LogCompactIn,
    responses(
        (status = 200, description = "What was deleted (or, with `dry_run`, would be), where the log starts now, and why the rest was kept.", body = LogCompactOut),
        (status = 400, description = "Not JSON, or a field breaks a rule (named in `field`): no export at `exported_to`, neither it nor `discard_unexported` for events, `exported_to` for impressions.", body = ErrorBody),
        (status = 404, description = "This server keeps no impressions log (`[serve.impressions] enabled = false`).", body = ErrorBody),
        (status = 413, description = "The body is over `[serve] max_body_bytes`.", body = ErrorBody),
        (status = 500, description = "Reading or deleting segments failed (`internal`).", body = ErrorBody),
    )
)]
pub(crate) async fn compact(
    State(state): State<Arc<AppState>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<LogCompactOut>, ApiError> {
    let bytes = body_bytes(bytes, state.config.max_body_bytes)?;
    let input: LogCompactIn = body::object(&bytes)?;
    let request = CompactRequest {
        log: match input.log {
            None | Some(LogNameIn::Events) => LogName::Events,
            Some(LogNameIn::Impressions) => LogName::Impressions,
        },
        older_than: std::time::Duration::from_secs(input.older_than_secs),
        exported_to: input.exported_to.map(Into::into),
        discard_unexported: input.discard_unexported.unwrap_or(false),
        dry_run: input.dry_run.unwrap_or(false),
    };
    let logs = state.logs.clone();
    let now_ms = now_ms();
    let (log, dry_run) = (request.log, request.dry_run);
    let report = blocking(move || Ok(logs.compact(&request, now_ms)?)).await?;
    Ok(Json(compact_out(log, dry_run, &report)))
}

/// A compaction's report on the wire (the CLI prints the same shape).
pub fn compact_out(
    log: LogName,
    dry_run: bool,
    report: &recd_store::CompactReport,
) -> LogCompactOut {
    let time = |ms: i64| (ms != i64::MAX && ms != i64::MIN).then_some(ms);
    LogCompactOut {
        log: log.as_str().into(),
        dry_run,
        deleted: report
            .deleted
            .iter()
            .map(|s| recd_api::CompactedSegmentOut {
                base: s.base,
                end: s.end,
                min_ms: time(s.min_ms),
                max_ms: time(s.max_ms),
            })
            .collect(),
        start: report.start,
        kept_because: report.kept_because.clone(),
        catalog_records: report.n_catalog_records as u64,
        bytes_deleted: report.n_bytes_deleted,
    }
}
