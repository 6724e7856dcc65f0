//! The help text of the updater's Prometheus metrics.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Registers the help text of every metric this crate records. Call once, after the
/// process's recorder is installed.
pub fn describe_metrics() {
    describe_counter!(
        "recd_stream_records_applied_total",
        "Log records applied to the feature store by the updater."
    );
    describe_histogram!(
        "recd_stream_batch_seconds",
        Unit::Seconds,
        "Time to apply one batch of log records to the feature store."
    );
    describe_gauge!(
        "recd_stream_applied_offset",
        "Log offset up to which the feature store has applied the log (embedded log only)."
    );
    describe_counter!(
        "recd_stream_errors_total",
        "Failed updater steps; each is retried with backoff from the store's applied offset."
    );
    describe_counter!(
        "recd_stream_resyncs_total",
        "Times the updater found the feature store without its state and replayed the log."
    );
    describe_counter!(
        "recd_stream_fold_ins_total",
        "User vectors computed by the nearline fold-in against the served model's item factors."
    );
}
