//! The CORS policy for browser clients (`[serve.cors]`), with `tower-http`'s layer.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::config::CorsConfig;

/// The layer `config` describes. No origins: a layer that adds nothing, so browsers keep
/// refusing cross-origin calls.
pub fn layer(config: &CorsConfig) -> CorsLayer {
    if config.allow_origins.is_empty() {
        return CorsLayer::new();
    }
    let origins = if config.allow_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        // Origins were checked when the config was loaded (`check`); one that is not a valid
        // header value is left out rather than failing here.
        AllowOrigin::list(
            config
                .allow_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([header::RETRY_AFTER])
        .max_age(Duration::from_secs(config.max_age_secs))
}

/// Each origin must be `*` or `scheme://host[:port]` with no path, as browsers send it.
pub fn check(config: &CorsConfig) -> Result<(), String> {
    for o in &config.allow_origins {
        let ok = o == "*"
            || ((o.starts_with("http://") || o.starts_with("https://"))
                && !o
                    .split_once("://")
                    .is_some_and(|(_, rest)| rest.contains('/'))
                && HeaderValue::from_str(o).is_ok());
        if !ok {
            return Err(format!(
                "serve.cors.allow_origins: {o:?} is not an origin; write \"https://shop.example\" (no path) or \"*\""
            ));
        }
    }
    Ok(())
}
