//! `GET /dashboard` (and `GET /`): the built-in operator dashboard.
//!
//! One self-contained HTML file (`dashboard.html`, compiled in), like `/docs`: its script
//! polls this server's `/metrics`, `/readyz`, `/v1/admin/models` and `/v1/admin/jobs` every
//! 2 s and shows requests per second, recommendation latency (p50/p95/p99 over the last
//! interval, from the histogram's buckets), the share of full-quality answers, the answer
//! cache, ingest rate and updater lag, the dependencies, the model registry (NDCG@10 across
//! versions as a chart, with each gate decision), the gradual rollout's steps and the training
//! jobs; every 10 s the experiments' reports (CTR per variant, each treatment's difference with
//! its interval plotted, p-values); and on request one user (`/v1/admin/users/{id}`: profile,
//! recent activity, the list they would get with reasons). The page itself holds no data and
//! is public; what it reads needs the admin scope
//! once API keys exist (it asks for a key and keeps it for the browser tab). No CDN, no
//! build step; a Content-Security-Policy keeps the browser to this server.

use axum::http::header;
use axum::response::{Html, IntoResponse};

/// The page.
const PAGE: &str = include_str!("dashboard.html");

/// What the page may load: this server's own resources, its inline script and style.
const CSP: &str = "default-src 'none'; connect-src 'self'; script-src 'unsafe-inline'; \
    style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The operator dashboard: traffic, latency, answer quality, ingest, models and training.
#[utoipa::path(
    get,
    path = "/dashboard",
    tag = "operations",
    operation_id = "dashboard",
    responses((status = 200, description = "A self-contained HTML page that polls the metrics and admin routes.", body = String, content_type = "text/html"))
)]
pub(crate) async fn page() -> impl IntoResponse {
    ([(header::CONTENT_SECURITY_POLICY, CSP)], Html(PAGE))
}

/// `/`: the dashboard.
#[utoipa::path(
    get,
    path = "/",
    tag = "operations",
    operation_id = "root",
    responses((status = 200, description = "The dashboard page (as `/dashboard`).", body = String, content_type = "text/html"))
)]
pub(crate) async fn root() -> impl IntoResponse {
    page().await
}
