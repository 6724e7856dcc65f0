//! `GET /openapi.json` and `GET /docs`, the page that renders it for people.
//!
//! The page is one self-contained HTML file (`docs.html`, compiled in): its script fetches
//! `openapi.json` from this server and renders the operations, their parameters, bodies and
//! responses, the schemas, and a form per operation to try it. No CDN at run time and no
//! download at build time; a Content-Security-Policy keeps the browser from loading anything
//! from elsewhere. (Rejected: `utoipa-swagger-ui`, which downloads Swagger UI in its build
//! script unless vendored, and then adds zip extraction and asset embedding to the build for
//! over 1 MB of JavaScript; `utoipa-redoc`, `-rapidoc` and `-scalar` load their scripts from
//! cdn.redoc.ly, unpkg and jsdelivr.)

use axum::http::header;
use axum::response::{Html, IntoResponse};

/// The page.
const PAGE: &str = include_str!("docs.html");

/// What the page may load: only this server's own resources (the spec), its inline script and
/// style.
const CSP: &str = "default-src 'none'; connect-src 'self'; script-src 'unsafe-inline'; \
    style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object, content_type = "application/json"))
)]
pub(crate) async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi::json(),
    )
}

/// The API documentation for people: the OpenAPI document, rendered.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "operations",
    operation_id = "docs",
    responses((status = 200, description = "A self-contained HTML page.", body = String, content_type = "text/html"))
)]
pub(crate) async fn page() -> impl IntoResponse {
    ([(header::CONTENT_SECURITY_POLICY, CSP)], Html(PAGE))
}
