//! `/v1/admin/*`: routes for operators (training jobs, model registry).
//!
//! Until API keys exist they answer only to clients on loopback (../shared/DECISIONS.md §5):
//! a server listening on a public address must not let anyone start a training or move
//! `CURRENT`. [`loopback_only`] is the one guard every admin route goes through.

pub(crate) mod jobs;
pub(crate) mod models;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// Lets the request through only when its connection comes from a loopback address. A
/// request without a known peer (not from our listener) is refused too.
pub(crate) async fn loopback_only(request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    match peer {
        Some(addr) if addr.ip().is_loopback() => next.run(request).await,
        _ => ApiError::Forbidden(
            "admin routes answer only to clients on loopback until API keys are configured".into(),
        )
        .into_response(),
    }
}
