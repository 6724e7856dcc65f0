//! Prometheus metrics: the process-wide recorder and the per-request middleware.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
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
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("recd_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("recd_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a label: the standard ones by name, anything else as "other", so that
/// made-up method names cannot add series without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Registers the help text of every metric this crate records with the recorder. Call once,
/// after [`install_metrics_recorder`].
pub fn describe_metrics() {
    recd_online::describe_metrics();
    describe_counter!(
        "recd_training_jobs_total",
        "Training runs started by this server that ended, by state: succeeded, failed, cancelled, timed_out, memory_exceeded."
    );
    describe_gauge!(
        "recd_training_job_running",
        "1 while a training run started by this server is going, else 0."
    );
    describe_gauge!(
        "recd_training_last_success_timestamp_seconds",
        Unit::Seconds,
        "When the last training run started by this server succeeded, in Unix seconds."
    );
    describe_counter!(
        "recd_http_requests_total",
        "HTTP requests answered, by route template, method and status code."
    );
    describe_histogram!(
        "recd_http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's arrival to its response, by route template."
    );
    describe_counter!(
        "recd_events_accepted_total",
        "Events made durable and acknowledged (202) by POST /v1/events."
    );
    describe_counter!(
        "recd_events_duplicate_total",
        "Events of POST /v1/events whose event id was seen within the dedupe window: acknowledged with their original offsets, not appended again."
    );
    describe_counter!(
        "recd_users_deleted_total",
        "Users deleted by DELETE /v1/users/{id} (tombstones appended)."
    );
    describe_counter!(
        "recd_events_unknown_item_total",
        "Events accepted that name an item missing from the catalog ([serve] unknown_items = \"accept\")."
    );
    describe_counter!(
        "recd_events_flagged_total",
        "Events accepted but flagged at ingest (reason: rate = over [serve.bots] max_events_per_user_per_min); training and trending leave them out."
    );
    describe_counter!(
        "recd_auth_refused_total",
        "Requests refused by authentication, by reason: missing or invalid key (401), a key without the route's scope, an admin route off loopback without keys (403)."
    );
    describe_counter!(
        "recd_rate_limited_total",
        "Requests answered 429, by the limit they went over: a scope (per caller) or address."
    );
    describe_gauge!(
        "recd_rate_limit_tracked_callers",
        "Callers and addresses the rate limiters hold state for (idle ones are forgotten every minute)."
    );
    describe_gauge!(
        "recd_rate_limit_fleet_share",
        "The share of each configured rate limit this API process lets through between two batches of the fleet's counts, or enforces alone while those are not current: 1 / the live API processes of its fleet (1 alone)."
    );
    describe_gauge!(
        "recd_rate_limit_fleet_counts_current",
        "1 while this API process hears the fleet's rate-limit counts on Redis (the fleet's limits apply), 0 when it cannot (each process enforces its share alone)."
    );
}
