//! The gradual rollout's driver: every `[serve.rollout] check_every_ms` it reads the model
//! registry and the rollout experiment's report, asks the policy (`recd_online::rollout`)
//! and applies its decision — the experiment's shares through the experiments admin, the
//! registry's promotion or rejection — and records each step in its history, which
//! `GET /v1/admin/models` shows.
//!
//! It needs a registry that every process it concerns reads: a models directory (the data
//! dir's, or a volume shared by a fleet) or a remote model store. A single server drives it from its own tally and
//! keeps the history in `<data>/rollout.json`. In a fleet (a bus), one API process at a time
//! drives it, as the fleet's duty `rollout` (`fleet_duty`), from the fleet's report; the
//! history is the fleet's document. Over a remote model store, it reads the store's local
//! copy and applies its decisions to the store ([`RemoteRegistry`]).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use recd_model::artifact::registry::{self, Op};
use recd_online::experiments::Status;
use recd_online::rollout::{
    self, Action, Active, Arm, Decision, History, Look, Rollout, RolloutConfig, Step,
};

use crate::AppState;
use crate::fleet_duty::FleetDuty;

/// Where the history is kept and who drives the rollout.
enum Keeper {
    /// A file of the server's data dir; this server drives.
    File(PathBuf),
    /// The fleet's duty `rollout`.
    Fleet(Box<FleetDuty>),
}

/// A registry that is not the models directory itself: a remote store's, the directory
/// being its local copy, which the rollout reads (a version is rolled out once this process
/// holds it) while its decisions go to the store.
pub trait RemoteRegistry: Send + Sync {
    /// Applies `op` to the store's registry.
    fn change(&self, op: &Op) -> Result<(), String>;
}

/// The rollout's settings and history, shared with the models route.
pub struct Rollouts {
    config: RolloutConfig,
    /// `None` when rollouts do not run in this process.
    keeper: Option<Keeper>,
    /// The registry when it is not the models directory's.
    remote: Option<Box<dyn RemoteRegistry>>,
    /// The history as last written or read.
    history: Mutex<History>,
}

impl Rollouts {
    /// Rollouts that do not run (off, or no impressions).
    pub fn off() -> Self {
        Self {
            config: RolloutConfig {
                enabled: false,
                ..RolloutConfig::default()
            },
            keeper: None,
            remote: None,
            history: Mutex::default(),
        }
    }

    /// Rollouts by `config`, their history kept at `path`.
    pub fn open(config: RolloutConfig, path: PathBuf) -> Result<Self, String> {
        let history = History::read(&path)?;
        Ok(Self {
            config,
            keeper: Some(Keeper::File(path)),
            remote: None,
            history: Mutex::new(history),
        })
    }

    /// A fleet's rollouts by `config`, driven as `duty`.
    pub fn fleet(config: RolloutConfig, duty: FleetDuty) -> Self {
        Self {
            config,
            keeper: Some(Keeper::Fleet(Box::new(duty))),
            remote: None,
            history: Mutex::default(),
        }
    }

    /// The registry is `remote`'s, not the models directory's.
    pub fn over(mut self, remote: Box<dyn RemoteRegistry>) -> Self {
        self.remote = Some(remote);
        self
    }

    /// Applies `op` to the registry.
    fn apply(&self, models_dir: &std::path::Path, op: &Op) -> Result<(), String> {
        match &self.remote {
            Some(remote) => remote.change(op),
            None => registry::change(models_dir, op)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }

    /// Whether rollouts run in this process.
    pub fn running(&self) -> bool {
        self.config.enabled && self.keeper.is_some()
    }

    /// The candidate's share in `active`'s step, percent.
    pub fn share(&self, active: &Active) -> f64 {
        Rollout {
            config: &self.config,
        }
        .share(active)
    }

    /// The history so far.
    pub fn history(&self) -> History {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, History> {
        self.history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Starts the driver when `state` can run rollouts (a history path, experiments and
/// attribution): the task runs until the runtime stops. Otherwise says why not.
pub fn start(state: Arc<AppState>) -> Result<tokio::task::JoinHandle<()>, &'static str> {
    let r = &state.rollout;
    if !r.running() {
        return Err("rollouts are off: candidates wait for `recd models promote`");
    }
    if state.attribution.is_none() || state.experiments.is_none() {
        return Err(
            "rollouts need impressions ([serve.impressions] enabled): candidates wait for `recd models promote`",
        );
    }
    let every = Duration::from_millis(r.config.check_every_ms);
    Ok(crate::periodic::spawn(state, every, "rollout check", tick))
}

/// One check, where this process drives the rollout.
fn tick(state: &AppState) -> Result<(), String> {
    let r = &state.rollout;
    match r.keeper.as_ref().ok_or("rollouts are off")? {
        Keeper::File(path) => {
            let mut history = r.lock();
            let before = history.clone();
            step(state, &mut history, &[])?;
            if *history != before {
                history.write(path)?;
            }
            Ok(())
        }
        Keeper::Fleet(duty) => {
            let caught_up = state.attribution.as_ref().is_some_and(|a| a.caught_up());
            let shown = duty.check(
                caught_up,
                state.fleet_tallies.as_deref(),
                |history: &mut History, others| step(state, history, others),
            )?;
            // Where another process drives: its history, for the models route.
            *r.lock() = shown;
            Ok(())
        }
    }
}

/// One look: start a rollout for a new candidate, or decide on the one in progress, from the
/// report of this process's tally and `others` (the fleet's other tallies).
fn step(
    state: &AppState,
    history: &mut History,
    others: &[recd_attribution::Snapshot],
) -> Result<(), String> {
    let r = &state.rollout;
    let reg = registry::state(&state.models_dir).map_err(|e| e.to_string())?;
    let policy = Rollout { config: &r.config };
    let Some(mut active) = history.active.clone() else {
        let (Some(candidate), Some(current)) = (reg.candidate, reg.current) else {
            return Ok(());
        };
        if ended(history, &candidate) {
            // A copy of a remote registry shows a decision only at its next poll; and a
            // version whose rollout ended is not rolled out again by itself.
            return Ok(());
        }
        let active = Active::new(&candidate, &current);
        let share = policy.share(&active);
        put(state, &active, share, Status::Running)?;
        history.active = Some(active.clone());
        record(
            history,
            &active,
            Action::Started,
            share,
            "a new candidate".into(),
            &Look::default(),
        );
        return Ok(());
    };
    if reg.candidate.as_deref() != Some(active.candidate.as_str())
        || reg.current.as_deref() != Some(active.current.as_str())
    {
        let why = format!(
            "the registry changed: current {}, candidate {}",
            reg.current.as_deref().unwrap_or("none"),
            reg.candidate.as_deref().unwrap_or("none")
        );
        put(state, &active, policy.share(&active), Status::Stopped)?;
        history.active = None;
        record(
            history,
            &active,
            Action::Abandoned,
            0.0,
            why,
            &Look::default(),
        );
        return Ok(());
    }
    let step_share = policy.share(&active);
    let Some(look) = look(state, &active, step_share, others) else {
        return Ok(());
    };
    let decision = policy.look(&mut active, &look);
    let (action, share, why) = match decision {
        Decision::Hold(_) => {
            // The sequential test's state may have moved: kept across restarts.
            history.active = Some(active);
            return Ok(());
        }
        Decision::Ramp(share) => {
            // The step's experiment stops first: both take the whole rollout layer.
            put(state, &active, step_share, Status::Stopped)?;
            put(state, &active, share, Status::Running)?;
            (Action::Ramped, share, "the step passed".to_string())
        }
        Decision::Promote(why) => {
            r.apply(&state.models_dir, &Op::Promote)?;
            put(state, &active, step_share, Status::Stopped)?;
            (Action::Promoted, 100.0, why)
        }
        Decision::RollBack(why) => {
            r.apply(&state.models_dir, &Op::Reject)?;
            put(state, &active, step_share, Status::Stopped)?;
            (Action::RolledBack, 0.0, why)
        }
    };
    tracing::info!(
        candidate = %active.candidate,
        current = %active.current,
        action = ?action,
        share,
        reason = %why,
        "model rollout step"
    );
    let ended = matches!(action, Action::Promoted | Action::RolledBack);
    history.active = (!ended).then(|| active.clone());
    record(history, &active, action, share, why, &look);
    Ok(())
}

/// Whether the last rollout of `candidate` ended (promoted or rolled back).
fn ended(history: &History, candidate: &str) -> bool {
    history
        .steps
        .iter()
        .rev()
        .find(|s| s.candidate == candidate)
        .is_some_and(|s| matches!(s.action, Action::Promoted | Action::RolledBack))
}

/// Stores the experiment of the step at `share` with `status` and puts it in effect (a
/// stopped one stays defined: its report remains readable).
fn put(state: &AppState, active: &Active, share: f64, status: Status) -> Result<(), String> {
    let admin = state.experiments.as_ref().ok_or("no experiments")?;
    let name = rollout::experiment_name(&active.candidate, share);
    let spec = rollout::experiment(&active.current, &active.candidate, share, status);
    let compiled = admin.put(&name, spec).map_err(|e| e.to_string())?;
    state.online.set_experiments(compiled);
    Ok(())
}

/// The numbers of the step at `share`, or `None` while attribution is still rebuilding.
fn look(
    state: &AppState,
    active: &Active,
    share: f64,
    others: &[recd_attribution::Snapshot],
) -> Option<Look> {
    let attribution = state.attribution.as_ref()?;
    if !attribution.caught_up() {
        return None;
    }
    let name = rollout::experiment_name(&active.candidate, share);
    let experiments = state.online.experiments();
    let spec = experiments.spec(&name)?;
    let design = crate::routes::admin::experiments::design(&name, spec);
    let report = recd_attribution::fleet_report(&design, &attribution.tally(), others);
    let arm = |variant: &str| {
        report
            .variants
            .iter()
            .find(|v| v.name == variant)
            .map(|v| Arm {
                impressions: v.impressions,
                ctr: v.ctr,
                latency_p99_ms: v.latency_p99_ms,
                fallback_share: v.fallback_share,
            })
            .unwrap_or_default()
    };
    let ctr = report
        .comparisons
        .iter()
        .find(|c| c.metric == "ctr" && c.variant == rollout::CANDIDATE)
        .and_then(|c| c.result.clone().ok());
    Some(Look {
        current: arm(rollout::CURRENT),
        candidate: arm(rollout::CANDIDATE),
        ctr,
    })
}

fn record(
    history: &mut History,
    active: &Active,
    action: Action,
    share: f64,
    reason: String,
    look: &Look,
) {
    history.push(Step {
        at_ms: crate::routes::now_ms(),
        candidate: active.candidate.clone(),
        current: active.current.clone(),
        action,
        share,
        reason,
        current_impressions: look.current.impressions,
        candidate_impressions: look.candidate.impressions,
        current_ctr: look.current.ctr,
        candidate_ctr: look.candidate.ctr,
        p_value: active.test.p_value,
    });
}
