//! An always-valid p-value for reports that are read while the experiment runs.
//!
//! A fixed-horizon p-value is valid only at the one look planned in advance: checking it
//! every minute and stopping at the first `p <= 0.05` rejects far more often than 5% under
//! no effect. The mixture sequential probability ratio test (mSPRT) of Johari, Pekelis and
//! Walsh (2017, "Always valid inference: continuous monitoring of A/B tests") gives a p-value
//! that may be read at any time, as often as wanted, and whose false-positive rate stays at
//! most `ALPHA` over the whole run.
//!
//! With a normal mixing prior N(0, τ²) over the true difference θ and the current estimate
//! θ̂ with variance V, the mixture likelihood ratio against θ = 0 is
//! `Λ = sqrt(V / (V + τ²)) · exp(τ²·θ̂² / (2V(V + τ²)))`, and the always-valid p-value is the
//! running minimum of `1 / Λ` (starting at 1). V is estimated at each look, as in the paper;
//! the guarantee is then asymptotic in the number of users, like the z-test's.

use crate::{ALPHA, Comparison, StatsError, dist};

/// The power at which [`default_tau2`] is tuned.
const PLANNED_POWER: f64 = 0.8;

/// A default mixing variance τ² for an experiment whose difference estimate is expected to
/// have variance `planned_variance` at its planned end (its standard error squared there).
///
/// τ² is the squared size of effect the test is tuned to find. This default is the squared
/// minimum detectable effect of the fixed-horizon test at the planned end,
/// `(z_{1-ALPHA/2} + z_{0.8})² · planned_variance` ≈ 7.85 V, that is, the effect a classic
/// test with 80% power would just detect. It is also where the mSPRT's rejection boundary at
/// the planned end is lowest: with r = τ²/V the boundary is
/// `|z| ≥ sqrt((1 + r)/r · (2 ln(1/ALPHA) + ln(1 + r)))`, minimal near r ≈ 8, so the price of
/// peeking is paid as little as possible where the decision is usually taken. A smaller τ²
/// favours stopping early on large effects; a larger one favours small effects late.
///
/// `planned_variance` should come from before the experiment (historical data, or a pilot):
/// the per-user variance scale of the metric over the planned users, for example a past
/// comparison's `variance() × its users / planned users`. A `planned_variance` that is not
/// positive and finite gives a τ² that [`Sequential::new`] refuses.
pub fn default_tau2(planned_variance: f64) -> f64 {
    let z = dist::normal_quantile(1.0 - ALPHA / 2.0) + dist::normal_quantile(PLANNED_POWER);
    z * z * planned_variance
}

/// The running always-valid p-value of one metric of one experiment.
///
/// Feed it the metric's current comparison at every look, in order; its p-value never
/// increases. Keep one per (experiment, metric), and persist `(tau2, p_value)` across
/// restarts with [`Sequential::resume`], since the minimum is over all past looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sequential {
    tau2: f64,
    p_value: f64,
}

impl Sequential {
    /// A test with mixing variance `tau2` (see [`default_tau2`]) that has not looked yet.
    ///
    /// # Errors
    /// [`StatsError::InvalidParameter`] unless `tau2` is positive and finite.
    pub fn new(tau2: f64) -> Result<Self, StatsError> {
        Self::resume(tau2, 1.0)
    }

    /// A test continued from a stored state: the same `tau2` and the last `p_value` it had.
    ///
    /// # Errors
    /// [`StatsError::InvalidParameter`] unless `tau2` is positive and finite and `p_value`
    /// is in (0, 1].
    pub fn resume(tau2: f64, p_value: f64) -> Result<Self, StatsError> {
        positive("tau2", tau2)?;
        if !(p_value > 0.0 && p_value <= 1.0) {
            return Err(StatsError::InvalidParameter {
                name: "p_value",
                value: p_value,
            });
        }
        Ok(Sequential { tau2, p_value })
    }

    /// Takes one look at `comparison` (its `diff` and `std_error²`) and returns the running
    /// p-value.
    ///
    /// # Errors
    /// As [`Sequential::update`].
    pub fn observe(&mut self, comparison: &Comparison) -> Result<f64, StatsError> {
        self.update(comparison.diff, comparison.variance())
    }

    /// Takes one look at a difference estimate `diff` with variance `variance` and returns the
    /// running p-value. On error the state is unchanged.
    ///
    /// # Errors
    /// [`StatsError::InvalidParameter`] unless `variance` is positive and finite;
    /// [`StatsError::NonFinite`] when `diff` is not finite.
    pub fn update(&mut self, diff: f64, variance: f64) -> Result<f64, StatsError> {
        positive("variance", variance)?;
        if !diff.is_finite() {
            return Err(StatsError::NonFinite {
                what: "the difference",
            });
        }
        let total = variance + self.tau2;
        // In logs: exp overflows for the large effects of a long experiment, and then 1/Λ
        // is simply 0.
        let log_lambda =
            0.5 * (variance / total).ln() + self.tau2 * diff * diff / (2.0 * variance * total);
        self.p_value = self.p_value.min((-log_lambda).exp());
        Ok(self.p_value)
    }

    /// The always-valid p-value after the looks so far (1 before the first).
    pub fn p_value(&self) -> f64 {
        self.p_value
    }

    /// The mixing variance τ².
    pub fn tau2(&self) -> f64 {
        self.tau2
    }

    /// True once the p-value has reached [`ALPHA`]: the experiment may stop with a
    /// difference, whenever this is read.
    pub fn is_significant(&self) -> bool {
        self.p_value <= ALPHA
    }
}

fn positive(name: &'static str, value: f64) -> Result<(), StatsError> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(StatsError::InvalidParameter { name, value })
    }
}
