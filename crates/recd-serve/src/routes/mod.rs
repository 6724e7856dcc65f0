//! The route table. One module per resource; `openapi.rs` documents every route of the table.

pub(crate) mod admin;
mod dashboard;
mod docs;
mod events;
pub(crate) mod extract;
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
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};

pub(crate) use extract::{IdPath, QueryParams, int_param, only_known};

use crate::AppState;
use crate::auth::Access;
use crate::auth::keys::Scope;

/// One method of one path: its handler and what it needs.
pub(crate) struct Route {
    pub(crate) path: &'static str,
    pub(crate) method: Method,
    pub(crate) access: Access,
    handler: MethodRouter<Arc<AppState>>,
}

/// Every path and method, its handler, and what it needs ([`Access`]: the one place that
/// decides who may call what; the OpenAPI document's security and 401/403/429 answers come
/// from here too). The document (`openapi.rs`) describes exactly these routes; a test
/// compares the two, so a route added here without its `#[utoipa::path]` fails it.
pub(crate) fn table() -> Vec<Route> {
    use Access::{Metrics, Probe, Public};
    let read = Access::Scoped(Scope::Read);
    let ingest = Access::Scoped(Scope::Ingest);
    let admin = Access::Scoped(Scope::Admin);
    vec![
        route("/v1/events", ingest, Method::POST, events::post),
        route("/v1/items", read, Method::GET, items::list),
        route("/v1/items/{id}", read, Method::GET, items::get),
        route("/v1/items/{id}", admin, Method::PUT, items::put),
        route("/v1/items/{id}", admin, Method::DELETE, items::delete),
        route(
            "/v1/items/{id}/features",
            admin,
            Method::GET,
            features::item,
        ),
        route("/v1/items/{id}/similar", read, Method::GET, similar::get),
        route(
            "/v1/recommendations",
            read,
            Method::GET,
            recommendations::get,
        ),
        route("/recommendations", read, Method::GET, recommendations::get),
        route("/v1/users/{id}", admin, Method::GET, users::get),
        route("/v1/users/{id}", admin, Method::PUT, users::put),
        route("/v1/users/{id}", admin, Method::DELETE, users::delete),
        route(
            "/v1/users/{id}/features",
            admin,
            Method::GET,
            features::user,
        ),
        route("/v1/trending", read, Method::GET, features::trending),
        route("/healthz", Probe, Method::GET, health::healthz),
        route("/readyz", Probe, Method::GET, health::readyz),
        route("/metrics", Metrics, Method::GET, health::metrics),
        route("/openapi.json", Public, Method::GET, docs::openapi_json),
        route("/docs", Public, Method::GET, docs::page),
        route("/dashboard", Public, Method::GET, dashboard::page),
        route("/", Public, Method::GET, dashboard::root),
        route("/v1/admin/train", admin, Method::POST, admin::jobs::train),
        route("/v1/admin/jobs", admin, Method::GET, admin::jobs::list),
        route(
            "/v1/admin/jobs/{job_id}",
            admin,
            Method::DELETE,
            admin::jobs::cancel,
        ),
        route("/v1/admin/models", admin, Method::GET, admin::models::list),
        route(
            "/v1/admin/users/{id}",
            admin,
            Method::GET,
            admin::users::get,
        ),
        route(
            "/v1/admin/log/compact",
            admin,
            Method::POST,
            admin::log::compact,
        ),
        route(
            "/v1/admin/experiments",
            admin,
            Method::GET,
            admin::experiments::list,
        ),
        route(
            "/v1/admin/experiments/{name}",
            admin,
            Method::GET,
            admin::experiments::get,
        ),
        route(
            "/v1/admin/experiments/{name}",
            admin,
            Method::PUT,
            admin::experiments::put,
        ),
        route(
            "/v1/admin/experiments/{name}/report",
            admin,
            Method::GET,
            admin::experiments::report,
        ),
    ]
}

/// One method of `path`, answered by `handler` behind the guard of `access`.
fn route<H, T>(path: &'static str, access: Access, method: Method, handler: H) -> Route
where
    H: axum::handler::Handler<T, Arc<AppState>>,
    T: 'static,
{
    // The table uses only GET, PUT, POST and DELETE, which all have a filter.
    let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
    let handler = axum::routing::on(filter, handler).route_layer(axum::middleware::from_fn(
        move |request, next| crate::auth::guard(access, request, next),
    ));
    Route {
        path,
        method,
        access,
        handler,
    }
}

/// The paths of the route table, each once, in its order (for the test that compares them
/// with the OpenAPI document).
pub(crate) fn paths() -> Vec<&'static str> {
    let mut paths: Vec<&'static str> = Vec::new();
    for r in table() {
        if !paths.contains(&r.path) {
            paths.push(r.path);
        }
    }
    paths
}

/// Builds the router over `state`. Unknown paths (404) and methods (405) answer with the
/// JSON error body like every other error.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.config.max_body_bytes;
    let mut by_path: Vec<(&'static str, MethodRouter<Arc<AppState>>)> = Vec::new();
    for r in table() {
        match by_path.iter_mut().find(|(path, _)| *path == r.path) {
            Some((_, methods)) => *methods = std::mem::take(methods).merge(r.handler),
            None => by_path.push((r.path, r.handler)),
        }
    }
    let router = by_path
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
        .layer(axum::Extension(state.security.clone()))
        // Outermost, so that a browser's preflight OPTIONS is answered before routing.
        .layer(crate::auth::cors::layer(&state.config.cors))
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

/// In a scaled deployment, makes catalog records durable on the bus's catalog channel before
/// this process writes its own copy: every process applies the channel to its catalog, so a
/// change made through one API process reaches all of them (a 503 here changes nothing).
pub(crate) async fn share_catalog(
    state: &crate::AppState,
    records: Vec<recd_types::Record>,
) -> Result<(), crate::ApiError> {
    if let Some(bus) = &state.bus {
        durable(bus.as_ref(), bus.append_catalog(&records)).await?;
    }
    Ok(())
}

/// Waits for a bus append's answer, up to the bus's deadline: past it the append counts as
/// failed (503), whatever the engine is still doing with it.
pub(crate) async fn durable(
    bus: &dyn recd_bus::EventBus,
    pending: recd_bus::PendingPositions,
) -> Result<Vec<recd_bus::Position>, crate::ApiError> {
    let deadline = bus.append_deadline();
    match tokio::time::timeout(deadline, pending).await {
        Ok(answer) => Ok(answer?),
        Err(_) => Err(recd_bus::BusError::Unavailable(format!(
            "no acknowledgement from the event bus within {} ms",
            deadline.as_millis()
        ))
        .into()),
    }
}

/// Runs blocking storage work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::ApiError> + Send + 'static,
) -> Result<T, crate::ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| crate::ApiError::Internal(format!("storage task failed: {e}")))?
}
