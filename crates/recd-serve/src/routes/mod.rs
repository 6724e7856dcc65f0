//! The route table. One module per resource.

mod events;
mod features;
mod health;
mod items;
mod recommendations;
mod similar;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

use crate::AppState;

/// Builds the router over `state`.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.config.max_body_bytes;
    Router::new()
        .route("/v1/events", post(events::post))
        .route("/v1/items/{id}", put(items::put).delete(items::delete))
        .route("/v1/items/{id}/features", get(features::item))
        .route("/v1/items/{id}/similar", get(similar::get))
        .route("/v1/recommendations", get(recommendations::get))
        .route("/recommendations", get(recommendations::get))
        .route("/v1/users/{id}", put(users::put))
        .route("/v1/users/{id}/features", get(features::user))
        .route("/v1/trending", get(features::trending))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .layer(axum::middleware::from_fn_with_state(
            body_reading(&state.config),
            crate::body::read_within,
        ))
        .layer(axum::middleware::from_fn(crate::metrics_http::track))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

fn body_reading(config: &crate::ServeConfig) -> crate::body::BodyReading {
    crate::body::BodyReading {
        max_bytes: config.max_body_bytes,
        timeout: std::time::Duration::from_millis(config.body_timeout_ms.max(1)),
    }
}

/// Wall-clock time in ms since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The body bytes, or 413 when the body was over the limit.
pub(crate) fn body_bytes(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
    limit: usize,
) -> Result<axum::body::Bytes, crate::ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            crate::ApiError::PayloadTooLarge { limit }
        } else {
            crate::ApiError::InvalidJson {
                index: None,
                message: format!("could not read the body: {rejection}"),
            }
        }
    })
}

/// Runs blocking storage work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::ApiError> + Send + 'static,
) -> Result<T, crate::ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| crate::ApiError::Internal(format!("storage task failed: {e}")))?
}
