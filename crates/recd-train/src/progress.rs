//! Progress of a training run: stage boundaries and, inside a stage, counted units (ALS
//! iterations, ranker epochs, evaluated users), from which the CLI draws a bar with an ETA.

/// Receives a training run's progress. Called from the training threads.
pub trait Progress: Sync {
    /// A stage starts.
    fn start(&self, stage: &str);
    /// `done` of `total` `units` of the current stage are finished (e.g. 3 of 15 "ALS
    /// iterations"); a stage may count several kinds of unit one after the other.
    fn advance(&self, units: &str, done: u64, total: u64) {
        let _ = (units, done, total);
    }
    /// A stage ended after `seconds`.
    fn finish(&self, stage: &str, seconds: f64);
}

/// A [`Progress`] that only logs.
pub struct LogProgress;

impl Progress for LogProgress {
    fn start(&self, stage: &str) {
        tracing::debug!(stage, "stage started");
    }
    fn finish(&self, stage: &str, seconds: f64) {
        tracing::info!(stage, seconds, "stage done");
    }
}
