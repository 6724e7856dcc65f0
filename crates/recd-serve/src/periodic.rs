//! A background check that runs every so often on a blocking thread (the rollout, the
//! experiment watch): file and registry IO and report computation stay off the async threads.

use std::sync::Arc;
use std::time::Duration;

use crate::AppState;

/// Runs `tick` every `every` until the runtime stops. A failing tick is logged once per
/// distinct error (a registry that cannot be read fails every tick) and tried again.
pub(crate) fn spawn(
    state: Arc<AppState>,
    every: Duration,
    what: &'static str,
    tick: fn(&AppState) -> Result<(), String>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_error = None;
        loop {
            interval.tick().await;
            let task_state = state.clone();
            let outcome = tokio::task::spawn_blocking(move || tick(&task_state))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            match outcome {
                Ok(()) => last_error = None,
                Err(e) if last_error.as_ref() != Some(&e) => {
                    tracing::warn!(error = %e, "{what} failed; trying again");
                    last_error = Some(e);
                }
                Err(_) => {}
            }
        }
    })
}
