//! The watch over running experiments (`[serve.guardrails]`): every `check_every_ms` each
//! running experiment's report is computed from the attribution tally and handed to
//! `recd_online::experiments::guard` — its sequential tests move on (the report shows their
//! always-valid p-values), and an experiment whose treatment breaches a guardrail is stopped
//! through the experiments admin. Rollout steps (layer `rollout`) are not watched here: the
//! rollout's own policy judges them.
//!
//! Where one server owns its experiments, it watches them from its own tally and keeps the
//! tests' state in `<data>/experiment_watch.json`, so a restart continues them. In a fleet,
//! one API process at a time drives the watch — the holder of the fleet lock `watch` on its
//! Redis, taken over by another within the lease when it dies — from the fleet's report (its
//! tally and the others' published ones, `fleet_tally`); the state is a versioned document
//! on the same Redis, which the other processes read to show the tests in their reports.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use recd_online::experiments::Status;
use recd_online::experiments::guard::{self, Arm, GuardConfig, Stopped, Treatment, Watch, Watches};

use crate::AppState;
use crate::fleet_duty::FleetDuty;

/// Where the watch keeps its state and who drives it.
enum Keeper {
    /// A file of the server's data dir; this server drives.
    File(PathBuf),
    /// The fleet's duty `watch`.
    Fleet(Box<FleetDuty>),
}

/// The watch's settings and state, shared with the report route.
pub struct Watching {
    config: GuardConfig,
    /// `None` when the watch does not run in this process.
    keeper: Option<Keeper>,
    /// The tests as last looked at or read.
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
            keeper: None,
            watches: Mutex::default(),
        }
    }

    /// A watch by `config`, its state kept at `path`.
    pub fn open(config: GuardConfig, path: PathBuf) -> Result<Self, String> {
        let watches = guard::read(&path)?;
        Ok(Self {
            config,
            keeper: Some(Keeper::File(path)),
            watches: Mutex::new(watches),
        })
    }

    /// A fleet's watch by `config`, driven as `duty`.
    pub fn fleet(config: GuardConfig, duty: FleetDuty) -> Self {
        Self {
            config,
            keeper: Some(Keeper::Fleet(Box::new(duty))),
            watches: Mutex::default(),
        }
    }

    /// Whether the watch runs in this process.
    pub fn running(&self) -> bool {
        self.config.enabled && self.keeper.is_some()
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

/// One look at every running experiment, where this process drives the watch.
fn tick(state: &AppState) -> Result<(), String> {
    let (Some(admin), Some(attribution)) = (&state.experiments, &state.attribution) else {
        return Ok(());
    };
    let w = &state.experiment_watch;
    match w.keeper.as_ref().ok_or("the watch is off")? {
        Keeper::File(path) => {
            if !attribution.caught_up() {
                return Ok(());
            }
            let mut watches = w.lock();
            let before = watches.clone();
            look(state, admin, &mut watches, &[])?;
            if *watches != before {
                guard::write(path, &watches)?;
            }
            Ok(())
        }
        Keeper::Fleet(duty) => {
            let shown = duty.check(
                attribution.caught_up(),
                state.fleet_tallies.as_deref(),
                |watches: &mut Watches, others| look(state, admin, watches, others),
            )?;
            // Where another process drives: its tests, for the reports.
            *w.lock() = shown;
            Ok(())
        }
    }
}

/// Looks at every running experiment through the report of this process's tally and
/// `others` (the fleet's other tallies), moving `watches` on and stopping an experiment that
/// breaches its guardrails.
fn look(
    state: &AppState,
    admin: &recd_online::experiments::admin::ExperimentAdmin,
    watches: &mut Watches,
    others: &[recd_attribution::Snapshot],
) -> Result<(), String> {
    let Some(attribution) = &state.attribution else {
        return Ok(());
    };
    let config = &state.experiment_watch.config;
    for (name, (spec, _)) in admin.list() {
        if spec.status != Status::Running || spec.layer == recd_online::rollout::LAYER {
            continue;
        }
        let design = crate::routes::admin::experiments::design(&name, &spec);
        let report = recd_attribution::fleet_report(&design, &attribution.tally(), others);
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
        let Some((variant, reason)) = watch.look(config, &arm(control), &treatments) else {
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
    Ok(())
}
