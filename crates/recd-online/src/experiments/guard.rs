//! Guardrails and always-valid tests of running experiments: the policy, with no IO.
//!
//! Reports are read while experiments run, often; a fixed-horizon p-value read at every look
//! finds "significant" differences far more often than its level. Each treatment's CTR and
//! conversion rate against control are therefore also fed, at a steady cadence, to an
//! always-valid sequential test (mSPRT, `recd_stats::Sequential`), whose p-value may be read
//! at any time. τ² is planned at the first look where each arm has [`MIN_USERS`] users: that
//! look's variance scaled to `planned_users` users per arm (`recd_stats::default_tau2`).
//!
//! A treatment is stopped — the whole experiment, so that no user's assignment in another
//! variant moves — when it breaches a guardrail against control: answer latency p99 over
//! `max_latency_p99_ms` (and over control's), fallback share above control's by more than
//! `max_fallback_increase`, or a CTR worse by the sequential test at `alpha`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Users each arm needs before a sequential test looks: its guarantee is asymptotic in users,
/// and with a handful of them the delta method's variance can be near zero (a few users
/// without clicks look like a certain drop).
pub const MIN_USERS: usize = 30;

/// One variant's numbers at a look.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Arm {
    /// Items shown.
    pub impressions: u64,
    /// Clicks per item shown.
    pub ctr: Option<f64>,
    /// Answer latency p99, ms.
    pub latency_p99_ms: Option<f64>,
    /// Share of answers that were the fallback.
    pub fallback_share: Option<f64>,
}

/// Limits a treatment must keep against control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guardrails {
    /// The treatment's answer latency p99, ms (breached only above control's too).
    pub max_latency_p99_ms: f64,
    /// How much higher than control's its fallback share may be.
    pub max_fallback_increase: f64,
}

impl Guardrails {
    /// Why `treatment` breaches a guardrail against `control`, if it does.
    pub fn breach(&self, control: &Arm, treatment: &Arm) -> Option<String> {
        if let Some(p99) = treatment.latency_p99_ms
            && p99 > self.max_latency_p99_ms
            && control.latency_p99_ms.is_none_or(|q| p99 > q)
        {
            return Some(format!(
                "latency p99 {p99:.1} ms over the guardrail's {} ms",
                self.max_latency_p99_ms
            ));
        }
        if let Some(f) = treatment.fallback_share {
            let base = control.fallback_share.unwrap_or(0.0);
            if f - base > self.max_fallback_increase {
                return Some(format!("fallback share {f:.3} against control's {base:.3}"));
            }
        }
        None
    }
}

/// A running always-valid test, as persisted between looks and restarts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SequentialState {
    /// The mixing variance, once planned.
    pub tau2: Option<f64>,
    /// The running p-value (1 before the first look).
    pub p_value: f64,
}

impl Default for SequentialState {
    fn default() -> Self {
        Self {
            tau2: None,
            p_value: 1.0,
        }
    }
}

impl SequentialState {
    /// Looks at `cmp` once each arm has [`MIN_USERS`] users; `planned` turns the first such
    /// look's variance into the planned variance τ² is tuned for. Returns the running p-value
    /// (unchanged while there is nothing to look at).
    pub fn look(
        &mut self,
        cmp: &recd_stats::Comparison,
        planned: impl FnOnce(&recd_stats::Comparison, f64) -> f64,
    ) -> f64 {
        if cmp.n_control.min(cmp.n_treatment) < MIN_USERS
            || !(cmp.std_error > 0.0 && cmp.std_error.is_finite())
        {
            return self.p_value;
        }
        let variance = cmp.std_error * cmp.std_error;
        let tau2 = *self
            .tau2
            .get_or_insert_with(|| recd_stats::default_tau2(planned(cmp, variance)));
        if let Ok(mut test) = recd_stats::Sequential::resume(tau2, self.p_value)
            && let Ok(p) = test.update(cmp.diff, variance)
        {
            self.p_value = p;
        }
        self.p_value
    }
}

/// `[serve.guardrails]`: the watch over running experiments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardConfig {
    /// Run the sequential tests and stop experiments that breach a guardrail (needs
    /// impressions).
    pub enabled: bool,
    /// Guardrail: a treatment's answer latency p99, ms.
    pub max_latency_p99_ms: f64,
    /// Guardrail: how much higher than control's a treatment's fallback share may be.
    pub max_fallback_increase: f64,
    /// Stop an experiment whose treatment breaches a guardrail; false only reports (the
    /// sequential p-values still move).
    pub stop: bool,
    /// The sequential tests' level.
    pub alpha: f64,
    /// Users per arm the sequential tests are tuned for (an experiment's planned size).
    pub planned_users: u64,
    /// How often the experiments are looked at, ms.
    pub check_every_ms: u64,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_latency_p99_ms: 100.0,
            max_fallback_increase: 0.05,
            stop: true,
            alpha: 0.05,
            planned_users: 10_000,
            check_every_ms: 10_000,
        }
    }
}

impl GuardConfig {
    /// Checks the table; an error names the key.
    pub fn check(&self) -> Result<(), String> {
        let bad = |key: &str, what: &str| Err(format!("serve.guardrails.{key}: {what}"));
        if self.max_latency_p99_ms.is_nan() || self.max_latency_p99_ms <= 0.0 {
            return bad("max_latency_p99_ms", "must be positive");
        }
        if !(0.0..=1.0).contains(&self.max_fallback_increase) {
            return bad("max_fallback_increase", "must be a fraction from 0 to 1");
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return bad("alpha", "must be a probability between 0 and 1");
        }
        if self.planned_users == 0 {
            return bad("planned_users", "must be at least 1");
        }
        if self.check_every_ms == 0 {
            return bad("check_every_ms", "must be at least 1");
        }
        Ok(())
    }

    /// The guardrails part.
    pub fn guardrails(&self) -> Guardrails {
        Guardrails {
            max_latency_p99_ms: self.max_latency_p99_ms,
            max_fallback_increase: self.max_fallback_increase,
        }
    }
}

/// A treatment's numbers at a look.
#[derive(Debug, Clone)]
pub struct Treatment {
    /// The variant's name.
    pub name: String,
    /// Its numbers.
    pub arm: Arm,
    /// Per metric (`ctr`, `conversion_rate`), its comparison with control, when there are
    /// numbers.
    pub comparisons: Vec<(&'static str, recd_stats::Comparison)>,
}

/// Why an experiment was stopped by its guardrails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stopped {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// The variant that breached.
    pub variant: String,
    /// What it breached.
    pub reason: String,
}

/// The watch over one experiment: its sequential tests by `"<variant>/<metric>"`, and why it
/// was stopped, if it was.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    /// The running tests.
    pub tests: BTreeMap<String, SequentialState>,
    /// Set once the guardrails stopped the experiment.
    pub stopped: Option<Stopped>,
}

impl Watch {
    /// The sequential p-value of `variant`'s `metric`, once it has looked.
    pub fn p_value(&self, variant: &str, metric: &str) -> Option<f64> {
        self.tests
            .get(&format!("{variant}/{metric}"))
            .filter(|t| t.tau2.is_some())
            .map(|t| t.p_value)
    }

    /// One look: updates the tests and returns the breach that should stop the experiment,
    /// as `(variant, reason)`.
    pub fn look(
        &mut self,
        config: &GuardConfig,
        control: &Arm,
        treatments: &[Treatment],
    ) -> Option<(String, String)> {
        let planned_users = config.planned_users as f64;
        let mut breach = None;
        for t in treatments {
            for (metric, cmp) in &t.comparisons {
                let test = self
                    .tests
                    .entry(format!("{}/{metric}", t.name))
                    .or_default();
                let p = test.look(cmp, |c, variance| {
                    // Scaled from this look's users to the planned ones (variance ∝ 1/n).
                    variance * c.n_control.min(c.n_treatment) as f64 / planned_users
                });
                if breach.is_none() && *metric == "ctr" && p <= config.alpha && cmp.diff < 0.0 {
                    breach = Some((
                        t.name.clone(),
                        format!(
                            "CTR worse than control's: {:.4} against {:.4} (always-valid p = {p:.4})",
                            cmp.treatment, cmp.control
                        ),
                    ));
                }
            }
            if breach.is_none()
                && let Some(why) = config.guardrails().breach(control, &t.arm)
            {
                breach = Some((t.name.clone(), why));
            }
        }
        breach.filter(|_| config.stop)
    }
}

/// Every watched experiment by name, as persisted.
pub type Watches = BTreeMap<String, Watch>;

/// Reads the watches kept at `path`; a missing file is none.
pub fn read(path: &std::path::Path) -> Result<Watches, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Watches::default()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Replaces `path` with `watches` (atomically).
pub fn write(path: &std::path::Path, watches: &Watches) -> Result<(), String> {
    let bytes = serde_json::to_vec_pretty(watches).map_err(|e| e.to_string())?;
    crate::fs::replace_file(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests;
