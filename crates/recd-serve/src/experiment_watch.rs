//! The watch over running experiments (`[serve.guardrails]`): every `check_every_ms` each
//! running experiment's report is computed from the attribution tally and handed to
//! `recd_online::experiments::guard` — its sequential tests move on (the report shows their
//! always-valid p-values), and an experiment whose treatment breaches a guardrail is stopped
//! through the experiments admin. The tests' state is kept in `<data>/experiment_watch.json`,
//! so a restart continues them. Rollout steps (layer `rollout`) are not watched here: the
//! rollout's own policy judges them.
//!
//! Like the rollout, it runs in one server that owns its experiments; in a fleet each API
//! process tallies only its own answers, so it is off there.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use recd_online::experiments::Status;
use recd_online::experiments::guard::{self, Arm, GuardConfig, Stopped, Treatment, Watch, Watches};

use crate::AppState;

/// The watch's settings and state, shared with the report route.
pub struct Watching {
    config: GuardConfig,
    /// Where the state is kept; `None` when the watch does not run in this process.
    path: Option<PathBuf>,
    watches: Mutex<Watches>,
}

impl Watching {
    /// A watch that does not run.
    pub fn off() -> Self {
        Self {
            config: GuardConfig {
                enabled: false,
                ..GuardConfig::default()
            },
            path: None,
            watches: Mutex::default(),
        }
    }

    /// A watch by `config`, its state kept at `path`.
    pub fn open(config: GuardConfig, path: PathBuf) -> Result<Self, String> {
        let watches = guard::read(&path)?;
        Ok(Self {
            config,
            path: Some(path),
            watches: Mutex::new(watches),
        })
    }

    /// Whether the watch runs in this process.
    pub fn running(&self) -> bool {
        self.config.enabled && self.path.is_some()
    }

    /// The watch over experiment `name`, if it was looked at.
    pub fn get(&self, name: &str) -> Option<Watch> {
        self.lock().get(name).cloned()
    }

    fn lock(&self) -> MutexGuard<'_, Watches> {
        self.watches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Starts the watch when `state` can run it; otherwise says why not.
pub fn start(state: Arc<AppState>) -> Result<tokio::task::JoinHandle<()>, &'static str> {
    if !state.experiment_watch.running() {
        return Err("serve.guardrails: experiments are not watched in this process");
    }
    if state.attribution.is_none() || state.experiments.is_none() {
        return Err(
            "serve.guardrails: experiments are watched only where impressions are recorded",
        );
    }
    let every = Duration::from_millis(state.experiment_watch.config.check_every_ms);
    Ok(crate::periodic::spawn(
        state,
        every,
        "experiment watch",
        tick,
    ))
}

/// One look at every running experiment.
fn tick(state: &AppState) -> Result<(), String> {
    let (Some(admin), Some(attribution)) = (&state.experiments, &state.attribution) else {
        return Ok(());
    };
    if !attribution.caught_up() {
        return Ok(());
    }
    let w = &state.experiment_watch;
    let path = w.path.as_ref().ok_or("the watch is off")?;
    let mut watches = w.lock();
    let before = watches.clone();
    for (name, (spec, _)) in admin.list() {
        if spec.status != Status::Running || spec.layer == recd_online::rollout::LAYER {
            continue;
        }
        let design = crate::routes::admin::experiments::design(&name, &spec);
        let report = recd_attribution::report(&design, &attribution.tally());
        let arm = |v: &recd_attribution::VariantReport| Arm {
            impressions: v.impressions,
            ctr: v.ctr,
            latency_p99_ms: v.latency_p99_ms,
            fallback_share: v.fallback_share,
        };
        let Some(control) = report.variants.iter().find(|v| v.name == report.control) else {
            continue;
        };
        let treatments: Vec<Treatment> = report
            .variants
            .iter()
            .filter(|v| v.name != report.control)
            .map(|v| Treatment {
                name: v.name.clone(),
                arm: arm(v),
                comparisons: report
                    .comparisons
                    .iter()
                    .filter(|c| c.variant == v.name && c.metric != "dwell_ms")
                    .filter_map(|c| Some((c.metric, c.result.clone().ok()?)))
                    .collect(),
            })
            .collect();
        let watch = watches.entry(name.clone()).or_default();
        if watch.stopped.is_some() {
            // Running again after the guardrails stopped it: a new run, new tests.
            *watch = Watch::default();
        }
        let Some((variant, reason)) = watch.look(&w.config, &arm(control), &treatments) else {
            continue;
        };
        let mut stopped = spec.clone();
        stopped.status = Status::Stopped;
        let compiled = admin.put(&name, stopped).map_err(|e| e.to_string())?;
        state.online.set_experiments(compiled);
        tracing::warn!(experiment = %name, variant = %variant, reason = %reason, "experiment stopped by its guardrails");
        watch.stopped = Some(Stopped {
            at_ms: crate::routes::now_ms(),
            variant,
            reason,
        });
    }
    if *watches != before {
        guard::write(path, &watches)?;
    }
    Ok(())
}
