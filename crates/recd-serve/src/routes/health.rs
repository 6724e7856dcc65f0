//! `GET /healthz`, `GET /readyz`, `GET /metrics`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use recd_api::HealthOut;

use crate::AppState;

fn report(state: &AppState, status: &str) -> HealthOut {
    HealthOut {
        status: status.to_string(),
        log_end_offset: state.store.log().end_offset(),
        features_applied_offset: *state.features_applied.borrow(),
        feature_store: state.features.backend().to_string(),
    }
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    responses((status = 200, description = "Alive; log and updater positions.", body = HealthOut))
)]
pub(crate) async fn healthz(State(state): State<Arc<AppState>>) -> Json<HealthOut> {
    Json(report(&state, "ok"))
}

/// Readiness: 200 once the updater has caught up with the log at least once (features
/// rebuilt), 503 before.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    responses(
        (status = 200, description = "Ready (`status: ok`).", body = HealthOut),
        (status = 503, description = "Still rebuilding features (`status: starting`).", body = HealthOut),
    )
)]
pub(crate) async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<HealthOut>) {
    if state.features_applied.borrow().is_some() {
        (StatusCode::OK, Json(report(&state, "ok")))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(report(&state, "starting")),
        )
    }
}

/// Prometheus text exposition.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    responses((status = 200, description = "Prometheus text format 0.0.4.", body = String, content_type = "text/plain"))
)]
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let text = state
        .metrics
        .as_ref()
        .map(|h| h.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
