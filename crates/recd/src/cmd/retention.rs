//! The server's retention schedule: every `[store.retention] check_every_secs`, the old
//! segments of the data dir's logs that the ages allow are deleted, beside the writers (the
//! rules are `recd_store::retention`'s, shared with `recd log compact` and the admin route).

use std::sync::Arc;
use std::time::Duration;

use recd_store::retention::{Logs, RetentionConfig};

/// Starts the schedule (nothing when it is off or asks for nothing). The first check is one
/// period after the start, so a restart loop does not compact on every start.
pub fn start(logs: Arc<Logs>, config: &RetentionConfig) -> Option<tokio::task::JoinHandle<()>> {
    let requests = config.requests();
    if config.check_every_secs == 0 || requests.is_empty() {
        return None;
    }
    let every = Duration::from_secs(config.check_every_secs);
    for r in &requests {
        tracing::info!(
            log = r.log.as_str(),
            older_than_days = r.older_than.as_secs() / 86_400,
            check_every_secs = every.as_secs(),
            "retention: old segments of this log will be deleted"
        );
    }
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            for request in requests.clone() {
                let logs = logs.clone();
                let log = request.log.as_str();
                let done =
                    tokio::task::spawn_blocking(move || logs.compact(&request, now_ms())).await;
                match done {
                    Ok(Ok(report)) if !report.deleted.is_empty() => tracing::info!(
                        log,
                        segments = report.deleted.len(),
                        bytes = report.n_bytes_deleted,
                        start = report.start,
                        "retention: deleted old segments"
                    ),
                    Ok(Ok(report)) => {
                        tracing::debug!(log, kept_because = ?report.kept_because, "retention: nothing to delete")
                    }
                    Ok(Err(error)) => {
                        tracing::error!(log, %error, "retention: compaction failed; the log keeps growing until it is fixed")
                    }
                    Err(error) => {
                        tracing::error!(log, %error, "retention: the compaction task failed")
                    }
                }
            }
        }
    }))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
