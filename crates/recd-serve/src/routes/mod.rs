//! The route table. One module per resource; `openapi.rs` documents every route of the table.

mod admin;
mod docs;
mod events;
mod extract;
mod features;
mod health;
mod items;
pub(crate) mod openapi;
mod recommendations;
mod similar;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, delete, get, post};

pub(crate) use extract::{IdPath, QueryParams, int_param, only_known};

use crate::AppState;

/// Every path and the handlers of its methods. The OpenAPI document (`openapi.rs`) describes
/// exactly these; a test compares the two, so a route added here without its `#[utoipa::path]`
/// fails it.
fn table() -> Vec<(&'static str, MethodRouter<Arc<AppState>>)> {
    vec![
        ("/v1/events", post(events::post)),
        ("/v1/items", get(items::list)),
        (
            "/v1/items/{id}",
            get(items::get).put(items::put).delete(items::delete),
        ),
        ("/v1/items/{id}/features", get(features::item)),
        ("/v1/items/{id}/similar", get(similar::get)),
        ("/v1/recommendations", get(recommendations::get)),
        ("/recommendations", get(recommendations::get)),
        (
            "/v1/users/{id}",
            get(users::get)
                .put(users::put)
                .merge(admin_only(delete(users::delete))),
        ),
        ("/v1/users/{id}/features", get(features::user)),
        ("/v1/trending", get(features::trending)),
        ("/healthz", get(health::healthz)),
        ("/readyz", get(health::readyz)),
        ("/metrics", get(health::metrics)),
        ("/openapi.json", get(docs::openapi_json)),
        ("/v1/admin/train", admin_only(post(admin::jobs::train))),
        ("/v1/admin/jobs", admin_only(get(admin::jobs::list))),
        (
            "/v1/admin/jobs/{job_id}",
            admin_only(delete(admin::jobs::cancel)),
        ),
        ("/docs", get(docs::page)),
        (
            "/v1/admin/models",
            get(admin::models::list).route_layer(axum::middleware::from_fn(admin::loopback_only)),
        ),
    ]
}

/// `route` behind the admin guard.
fn admin_only(route: MethodRouter<Arc<AppState>>) -> MethodRouter<Arc<AppState>> {
    route.route_layer(axum::middleware::from_fn(admin::loopback_only))
}

/// The paths of the route table, in its order (for the test that compares them with the
/// OpenAPI document).
pub(crate) fn paths() -> Vec<&'static str> {
    table().into_iter().map(|(path, _)| path).collect()
}

/// Builds the router over `state`. Unknown paths (404) and methods (405) answer with the
/// JSON error body like every other error.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.config.max_body_bytes;
    let router = table()
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router.route(path, methods)
        });
    router
        // Applies to the routes added above, so it comes after them.
        .method_not_allowed_fallback(extract::method_not_allowed)
        .fallback(extract::no_such_route)
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
