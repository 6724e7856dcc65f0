//! Gradual rollout of the registry's `CANDIDATE`: the policy, free of any transport or store.
//!
//! A model that passed the publish gate under `[train] rollout = "candidate"` is served to a
//! share of users (`steps`, 10 → 50 → 100 by default) by an experiment per step
//! (`rollout-<candidate>-<share>`: variants `current` and `candidate`, each pinned to its
//! version, in a layer of their own so other experiments run beside it). Every step's
//! experiment has the same salt, so ramping moves variant boundaries only: users move from
//! `current` to `candidate`, never back.
//!
//! Each step is judged on its own impressions. Comparing totals across a ramp would be
//! biased: the candidate's impressions would lie mostly after the ramp and the current
//! model's mostly before, and CTR drifts over time (users see more of what they already
//! know), so even a copy of the current model would look worse. At every look
//! ([`Rollout::look`]), on the step's numbers:
//!
//! 1. **Guardrails** — the candidate's answer latency p99 over `max_latency_p99_ms` (and over
//!    the current model's), or its fallback share more than `max_fallback_increase` above
//!    the current model's: rolled back at once.
//! 2. **Worse CTR** — per-user CTR compared by the delta method, fed at every look to an
//!    always-valid sequential test (mSPRT, `recd_stats::Sequential`), so looking every few
//!    seconds does not inflate false alarms: significantly worse at `alpha` (5%) → rolled
//!    back.
//! 3. **Step done** — once the candidate has shown `min_impressions` items in this step, the
//!    step passes when the CTR is shown not worse than `max_ctr_drop` (relative): the 95%
//!    interval's lower end of `candidate − current` is above `−max_ctr_drop × current CTR`.
//!    The next step ramps; past the last share below 100 the candidate is promoted. A step
//!    that reaches `max_impressions` without showing that is rolled back: a model not shown
//!    good enough is not promoted.
//!
//! The sequential test looks once each arm has [`MIN_USERS`] users. Each step runs its own:
//! τ² is planned from its first look, that look's variance scaled to `min_impressions`
//! candidate impressions, the step's planned end (`recd_stats::default_tau2`). A copy of the
//! current model is thus rolled back with probability at most `alpha` per step.

use serde::{Deserialize, Serialize};

pub use crate::experiments::guard::{Arm, MIN_USERS};
use crate::experiments::guard::{Guardrails, SequentialState};
use crate::experiments::{ExperimentSpec, Status, VariantSpec};

/// `[serve.rollout]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RolloutConfig {
    /// Roll candidates out automatically (needs impressions recorded and a local model
    /// registry). Off: a candidate waits for `recd models promote`.
    pub enabled: bool,
    /// The candidate's share of users at each step, percent, increasing; 100 means promoted.
    pub steps: Vec<f64>,
    /// Items the candidate shows in a step before the step may pass.
    pub min_impressions: u64,
    /// Items the candidate may show in a step without being shown good enough; then it is
    /// rolled back.
    pub max_impressions: u64,
    /// The relative CTR drop the candidate must be shown to stay within (0.10: 10% of the
    /// current model's CTR).
    pub max_ctr_drop: f64,
    /// The false-alarm rate of the worse-CTR test: the chance that a candidate as good as the
    /// current model is rolled back, however often the rollout looks.
    pub alpha: f64,
    /// Guardrail: the candidate's answer latency p99, ms.
    pub max_latency_p99_ms: f64,
    /// Guardrail: how much higher than the current model's its fallback share may be.
    pub max_fallback_increase: f64,
    /// How often the rollout looks at the report, ms.
    pub check_every_ms: u64,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            steps: vec![10.0, 50.0, 100.0],
            min_impressions: 20_000,
            max_impressions: 400_000,
            max_ctr_drop: 0.10,
            alpha: 0.05,
            max_latency_p99_ms: 100.0,
            max_fallback_increase: 0.05,
            check_every_ms: 10_000,
        }
    }
}

/// What is wrong with a `[serve.rollout]` table, naming the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("serve.rollout.{key}: {message}")]
pub struct RolloutConfigError {
    /// The key.
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
}

impl RolloutConfig {
    /// Checks the table.
    pub fn check(&self) -> Result<(), RolloutConfigError> {
        let bad = |key, message: &str| {
            Err(RolloutConfigError {
                key,
                message: message.to_string(),
            })
        };
        let increasing = self.steps.windows(2).all(|w| w[0] < w[1]);
        let in_range = self.steps.iter().all(|s| *s > 0.0 && *s <= 100.0);
        if self.steps.last() != Some(&100.0) || !increasing || !in_range {
            return bad(
                "steps",
                "shares must increase, each above 0, and end at 100 (promotion)",
            );
        }
        if self.min_impressions == 0 {
            return bad("min_impressions", "must be at least 1");
        }
        if self.max_impressions < self.min_impressions {
            return bad("max_impressions", "must be at least min_impressions");
        }
        if !(0.0..=1.0).contains(&self.max_ctr_drop) {
            return bad("max_ctr_drop", "must be a fraction from 0 to 1");
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return bad("alpha", "must be a probability between 0 and 1");
        }
        if self.max_latency_p99_ms.is_nan() || self.max_latency_p99_ms <= 0.0 {
            return bad("max_latency_p99_ms", "must be positive");
        }
        if !(0.0..=1.0).contains(&self.max_fallback_increase) {
            return bad("max_fallback_increase", "must be a fraction from 0 to 1");
        }
        if self.check_every_ms == 0 {
            return bad("check_every_ms", "must be at least 1");
        }
        Ok(())
    }
}

/// The names of a rollout's experiment and variants.
pub const LAYER: &str = "rollout";
/// The control variant.
pub const CURRENT: &str = "current";
/// The treatment variant.
pub const CANDIDATE: &str = "candidate";

/// The experiment of a rollout of `candidate` against `current` at `share` percent.
pub fn experiment(current: &str, candidate: &str, share: f64, status: Status) -> ExperimentSpec {
    let variant = |name: &str, share: f64, model: &str| VariantSpec {
        name: name.into(),
        share,
        baseline: None,
        recommend: Default::default(),
        model: Some(model.into()),
    };
    ExperimentSpec {
        salt: format!("rollout-{candidate}"),
        status,
        layer: LAYER.into(),
        layer_buckets: [0, crate::experiments::BUCKETS],
        variants: vec![
            variant(CURRENT, 100.0 - share, current),
            variant(CANDIDATE, share, candidate),
        ],
    }
}

/// The experiment of the step of a rollout of `candidate` that serves it to `share` percent.
pub fn experiment_name(candidate: &str, share: f64) -> String {
    format!("rollout-{candidate}-{share}")
}

/// What the report says at a look.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Look {
    /// The current model's variant.
    pub current: Arm,
    /// The candidate's variant.
    pub candidate: Arm,
    /// The per-user CTR comparison (candidate − current), when there are numbers.
    pub ctr: Option<recd_stats::Comparison>,
}

/// A rollout in progress, as persisted between looks and restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Active {
    /// The candidate version.
    pub candidate: String,
    /// The version it is compared with.
    pub current: String,
    /// Index into `steps` of the share served now.
    pub step: usize,
    /// The step's sequential test of CTR.
    #[serde(flatten)]
    pub test: SequentialState,
}

impl Active {
    /// A rollout at its first step.
    pub fn new(candidate: &str, current: &str) -> Self {
        Self {
            candidate: candidate.into(),
            current: current.into(),
            step: 0,
            test: SequentialState::default(),
        }
    }
}

/// What a look decides.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Keep serving at this share; why (for a log line when it changes).
    Hold(String),
    /// Serve the candidate to this share next.
    Ramp(f64),
    /// Make the candidate `CURRENT`.
    Promote(String),
    /// Stop serving the candidate and empty the registry's candidate slot.
    RollBack(String),
}

/// The policy of the module docs, one look at a time.
pub struct Rollout<'a> {
    /// The settings.
    pub config: &'a RolloutConfig,
}

impl Rollout<'_> {
    /// The share the candidate is served at in `active`'s step.
    pub fn share(&self, active: &Active) -> f64 {
        self.config.steps.get(active.step).copied().unwrap_or(100.0)
    }

    /// Decides from `look` (the step's numbers), updating `active`'s sequential test (and, on
    /// a ramp, its step, with a fresh test).
    pub fn look(&self, active: &mut Active, look: &Look) -> Decision {
        let c = self.config;
        let (cur, cand) = (&look.current, &look.candidate);
        let guardrails = Guardrails {
            max_latency_p99_ms: c.max_latency_p99_ms,
            max_fallback_increase: c.max_fallback_increase,
        };
        if let Some(why) = guardrails.breach(cur, cand) {
            return Decision::RollBack(why);
        }
        if let Some(cmp) = &look.ctr {
            // Planned for the step's end: `min_impressions` candidate impressions.
            let p = active.test.look(cmp, |_, variance| {
                variance * cand.impressions.max(1) as f64 / c.min_impressions as f64
            });
            if p <= c.alpha && cmp.diff < 0.0 {
                return Decision::RollBack(format!(
                    "CTR worse than the current model's: {:.4} against {:.4} (always-valid p = {p:.4})",
                    cmp.treatment, cmp.control
                ));
            }
        }
        let in_step = cand.impressions;
        if in_step < c.min_impressions {
            return Decision::Hold(format!(
                "{in_step} of {} impressions at {}%",
                c.min_impressions,
                self.share(active)
            ));
        }
        let margin = c.max_ctr_drop * cur.ctr.unwrap_or(0.0);
        let within = look.ctr.as_ref().is_some_and(|cmp| cmp.ci_low >= -margin);
        if within {
            let next = active.step + 1;
            let share = c.steps.get(next).copied().unwrap_or(100.0);
            if share >= 100.0 {
                return Decision::Promote(format!(
                    "CTR within {:.0}% of the current model's after {in_step} impressions at {}%",
                    c.max_ctr_drop * 100.0,
                    self.share(active)
                ));
            }
            active.step = next;
            active.test = SequentialState::default();
            return Decision::Ramp(share);
        }
        if in_step >= c.max_impressions {
            return Decision::RollBack(format!(
                "CTR not shown within {:.0}% of the current model's after {in_step} impressions",
                c.max_ctr_drop * 100.0
            ));
        }
        Decision::Hold(format!(
            "CTR not yet shown within {:.0}% of the current model's",
            c.max_ctr_drop * 100.0
        ))
    }
}

/// One step of a rollout's history (what `GET /v1/admin/models` shows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// The candidate version.
    pub candidate: String,
    /// The version it was compared with.
    pub current: String,
    /// `started`, `ramped`, `promoted`, `rolled_back` or `abandoned`.
    pub action: Action,
    /// The candidate's share of users after this step, percent.
    pub share: f64,
    /// Why.
    pub reason: String,
    /// Items shown by each variant so far.
    pub current_impressions: u64,
    /// Items shown by the candidate so far.
    pub candidate_impressions: u64,
    /// CTR of each variant so far.
    pub current_ctr: Option<f64>,
    /// CTR of the candidate so far.
    pub candidate_ctr: Option<f64>,
    /// The sequential test's p-value at this step.
    pub p_value: f64,
}

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The candidate began serving at the first share.
    Started,
    /// Its share grew.
    Ramped,
    /// It became `CURRENT`.
    Promoted,
    /// It stopped serving and left the candidate slot.
    RolledBack,
    /// The registry changed under it (another candidate staged, or promoted by hand).
    Abandoned,
}

/// The rollout's persisted state: the one in progress and the history, newest last.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The rollout in progress.
    pub active: Option<Active>,
    /// Every step, newest last, at most [`History::KEPT`].
    pub steps: Vec<Step>,
}

impl History {
    /// Steps kept.
    pub const KEPT: usize = 200;

    /// Reads `path`; a missing file is an empty history.
    pub fn read(path: &std::path::Path) -> Result<Self, String> {
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Replaces `path` with this history (atomically).
    pub fn write(&self, path: &std::path::Path) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        crate::fs::replace_file(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Appends `step`, forgetting the oldest beyond [`History::KEPT`].
    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
        let excess = self.steps.len().saturating_sub(Self::KEPT);
        self.steps.drain(..excess);
    }
}

#[cfg(test)]
mod tests;
