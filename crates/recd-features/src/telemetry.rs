//! The feature store's Prometheus metrics: their help text, and the one place that records a
//! Redis round trip (its latency and whether Redis answered).

use std::time::Instant;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Registers the help text of every metric this crate records. Call once, after the
/// process's recorder is installed.
pub fn describe_metrics() {
    describe_counter!(
        "recd_features_degraded_reads_total",
        "User-feature reads made while Redis was unreachable: answered from the local cache (cache=hit) or failed (cache=miss)."
    );
    describe_counter!(
        "recd_features_state_lost_total",
        "Times the feature store lacked the state the updater expected (e.g. Redis restarted empty); the log is replayed."
    );
    describe_counter!(
        "recd_features_corrupt_values_total",
        "Feature values in Redis that did not decode; they are rebuilt from later events."
    );
    describe_counter!(
        "recd_features_expired_events_skipped_total",
        "Events already older than the user TTL when applied, left out."
    );
    describe_counter!(
        "recd_feature_cache_total",
        "User-feature reads through the local cache in front of Redis, by result (hit: served without a Redis round trip)."
    );
    describe_histogram!(
        "recd_feature_store_seconds",
        Unit::Seconds,
        "Latency of one round trip to the Redis feature store, by op (query: one command, pipeline: a batch)."
    );
    describe_counter!(
        "recd_feature_evictions_total",
        "Users and items dropped from the embedded feature store, by state (user, item) and reason (budget: least recently active past the memory budget; expired: past the TTL). A dropped user starts again from their next event."
    );
    describe_gauge!(
        "recd_feature_store_memory_bytes",
        Unit::Bytes,
        "Estimated heap bytes held by the embedded feature store's users and items (what its memory budget counts)."
    );
    describe_gauge!(
        "recd_feature_store_memory_budget_bytes",
        Unit::Bytes,
        "The embedded feature store's memory budget ([features] memory_budget_mb)."
    );
    describe_gauge!(
        "recd_dependency_up",
        "1 when the dependency answered its latest request, 0 when that request failed, by dependency."
    );
}

/// Records one Redis round trip that started at `started`.
pub(crate) fn redis_round_trip(op: &'static str, started: Instant, ok: bool) {
    metrics::histogram!("recd_feature_store_seconds", "op" => op)
        .record(started.elapsed().as_secs_f64());
    metrics::gauge!("recd_dependency_up", "dependency" => "redis").set(if ok { 1.0 } else { 0.0 });
}

/// Counts one read of the local user cache.
pub(crate) fn cache_read(hit: bool) {
    metrics::counter!("recd_feature_cache_total", "result" => if hit { "hit" } else { "miss" })
        .increment(1);
}

/// Counts `n` users or items dropped from the embedded store.
pub(crate) fn evicted(state: &'static str, reason: &'static str, n: usize) {
    // Registered even at zero, so that the series exists from the first batch on.
    metrics::counter!("recd_feature_evictions_total", "state" => state, "reason" => reason)
        .increment(n as u64);
}

/// Publishes the embedded store's memory use and budget.
pub(crate) fn memory(used: usize, budget: usize) {
    metrics::gauge!("recd_feature_store_memory_bytes").set(used as f64);
    metrics::gauge!("recd_feature_store_memory_budget_bytes").set(budget as f64);
}
