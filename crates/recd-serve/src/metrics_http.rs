//! Prometheus metrics: the process-wide recorder and the per-request middleware.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: 25 µs to 5 s, dense where requests and their stages live
/// (a recommendation's stages take tens to hundreds of µs, a request under 10 ms). Up to
/// 50 ms neighbouring bounds differ by 1.7× at most, so a quantile read from the buckets is
/// that close; a 1-2.5-5 series left a factor of 2.5 (the stages all fell in 2 buckets).
const SECONDS_BUCKETS: &[f64] = &[
    0.000_025, 0.000_05, 0.000_075, 0.000_1, 0.000_15, 0.000_2, 0.000_3, 0.000_5, 0.000_75, 0.001,
    0.001_5, 0.002, 0.003, 0.005, 0.007_5, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0,
];

/// Installs the process-wide Prometheus recorder once and returns its handle; later calls
/// return the same handle. `None` if another recorder was installed first.
pub fn install_metrics_recorder() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .ok()?;
            builder.install_recorder().ok()
        })
        .clone()
}

/// Counts requests and times them per route (the route template, so ids do not explode the
/// label set).
pub(crate) async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("recd_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("recd_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
