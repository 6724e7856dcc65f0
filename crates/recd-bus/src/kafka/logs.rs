//! librdkafka's own log lines, as this process's tracing events.
//!
//! librdkafka reports a broker it cannot reach at its error level, on every client, once per
//! reconnect round. For recd that is the bus being down, which appends (503) and readiness
//! (`event_bus` down) already report: its lines are warnings, not errors of ours.

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;

/// The context of the bus's consumers and admin clients (the producer's adds delivery
/// reports to the same logging).
pub(super) struct Logs;

impl ClientContext for Logs {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log(level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        client_error(&error, reason);
    }
}

impl ConsumerContext for Logs {}

/// One librdkafka log line at its level, errors as warnings (see the module docs).
pub(super) fn log(level: RDKafkaLogLevel, fac: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error
        | RDKafkaLogLevel::Warning => tracing::warn!(facility = fac, "librdkafka: {message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(facility = fac, "librdkafka: {message}");
        }
        RDKafkaLogLevel::Debug => tracing::debug!(facility = fac, "librdkafka: {message}"),
    }
}

/// A client-wide error (all brokers down, say): a warning, for the same reason.
pub(super) fn client_error(error: &KafkaError, reason: &str) {
    tracing::warn!(error = %error, "Kafka client: {reason}");
}
