//! `GET /healthz`, `GET /readyz`, `GET /metrics`.

use std::sync::Arc;

use axum::Json;
use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use recd_api::{DependencyOut, ErrorBody, HealthOut};
use serde::Deserialize;

use crate::{ApiError, AppState};

fn report(state: &AppState, status: &str) -> HealthOut {
    HealthOut {
        status: status.to_string(),
        log_end_offset: state.store.log().end_offset(),
        features_applied_offset: *state.features_applied.borrow(),
        feature_store: state.features.backend().to_string(),
        dependencies: BTreeMap::new(),
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

/// `GET /readyz` parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadyParams {
    /// Also 503 when a shared dependency (Redis) is down or no model is loaded.
    #[serde(default)]
    strict: bool,
}

/// How long the feature store gets to answer a readiness check.
const CHECK_TIMEOUT: Duration = Duration::from_millis(500);

/// Readiness (../shared/DECISIONS.md §1): 503 only for faults of this instance — the updater
/// has not caught up with the log once yet (`starting`), or the log refuses writes
/// (`not_ready`). Shared dependencies are reported in the body; with `?strict=true` one that
/// is down (or no model loaded) is a 503 too (`degraded`).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    params(("strict" = Option<bool>, Query, description = "Also answer 503 when a dependency is down or no model is loaded.")),
    responses(
        (status = 200, description = "This instance can answer (`status: ok`); `dependencies` names the state of each.", body = HealthOut),
        (status = 400, description = "`strict` is not true or false (`invalid_field`).", body = ErrorBody),
        (status = 503, description = "`starting` (the updater has not caught up with the log yet), `not_ready` (the log refuses writes), or with `strict=true` `degraded` (a dependency is down).", body = HealthOut),
    )
)]
pub(crate) async fn readyz(
    State(state): State<Arc<AppState>>,
    params: Result<Query<ReadyParams>, QueryRejection>,
) -> Result<(StatusCode, Json<HealthOut>), ApiError> {
    let Query(params) = params.map_err(|e| ApiError::InvalidField {
        index: None,
        field: "strict".into(),
        message: e.body_text(),
    })?;
    let mut deps = BTreeMap::new();
    let log_failure = state.store.log().failure();
    let damage = state.store.log().damage();
    let lost: u64 = damage.iter().map(|d| d.n_lost).sum();
    // Damage degrades the log but this instance still answers and appends: reported, and a
    // 503 only under `strict`.
    let log_error = log_failure.clone().or_else(|| {
        (!damage.is_empty()).then(|| {
            format!(
                "{lost} acknowledged records lost to {} damaged ranges (the first in {} at byte {}); run `recd log verify` and `recd log repair`",
                damage.len(),
                damage[0].segment.display(),
                damage[0].byte_start
            )
        })
    });
    let mut log = dependency(log_error, Some("embedded file log".into()));
    log.lost_records = (!damage.is_empty()).then_some(lost);
    deps.insert("log".into(), log);
    let check = tokio::time::timeout(CHECK_TIMEOUT, state.features.check()).await;
    let feature_error = match check {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
    };
    deps.insert(
        "feature_store".into(),
        dependency(feature_error, Some(state.features.backend().into())),
    );
    if let Some(bus) = &state.bus {
        let detail = bus.config().events.clone();
        let bus = bus.clone();
        let check = tokio::time::timeout(
            CHECK_TIMEOUT,
            tokio::task::spawn_blocking(move || bus.check()),
        )
        .await;
        let bus_error = match check {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(e))) => Some(e.to_string()),
            Ok(Err(e)) => Some(format!("check task: {e}")),
            Err(_) => Some(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
        };
        deps.insert("event_bus".into(), dependency(bus_error, Some(detail)));
    }
    let applied = *state.features_applied.borrow();
    let end = state.store.log().end_offset();
    let mut updater = dependency(
        applied
            .is_none()
            .then(|| "catching up with the log".to_string()),
        None,
    );
    updater.lag_records = Some(end.saturating_sub(applied.unwrap_or(0)));
    deps.insert("updater".into(), updater);
    let model = state.online.models.get();
    deps.insert(
        "model".into(),
        dependency(
            model
                .is_none()
                .then(|| "no model loaded: answers are the popular fallback".to_string()),
            model.map(|m| m.version().to_string()),
        ),
    );
    if let Some(store) = state.online.models.store_status() {
        deps.insert(
            "model_store".into(),
            dependency(store.error.clone(), Some(store.url.clone())),
        );
    }

    let lag = end.saturating_sub(applied.unwrap_or(0));
    let within = applied.is_some() && lag <= state.config.ready_max_lag_records;
    let ready = state.readiness.check(within, state.config.ready_checks);
    let (code, status) = if log_failure.is_some() {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    } else if !ready {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    } else if params.strict && deps.values().any(|d| !d.up) {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded")
    } else {
        (StatusCode::OK, "ok")
    };
    let mut out = report(&state, status);
    out.dependencies = deps;
    Ok((code, Json(out)))
}

fn dependency(error: Option<String>, detail: Option<String>) -> DependencyOut {
    DependencyOut {
        up: error.is_none(),
        error,
        detail,
        lag_records: None,
        lost_records: None,
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
    let mut text = state
        .metrics
        .as_ref()
        .map(|h| h.render())
        .unwrap_or_default();
    text.push_str(&crate::scrape::render(&state, super::now_ms()));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
