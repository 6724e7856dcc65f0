//! Fixed-horizon comparisons of a treatment arm against control, one number per user.
//!
//! Both tests take per-user aggregates because the user is the unit of randomisation: a
//! user's clicks are correlated with each other, so treating impressions as independent
//! trials would understate the variance and overstate significance.

use crate::moments::{moments, pair_moments};
use crate::{ALPHA, Arm, StatsError, dist};

/// Treatment minus control on one metric, with its uncertainty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// The control arm's estimate (a mean, or a ratio of sums).
    pub control: f64,
    /// The treatment arm's estimate.
    pub treatment: f64,
    /// `treatment - control`.
    pub diff: f64,
    /// Standard error of `diff`; its square is what [`crate::Sequential`] takes as variance.
    pub std_error: f64,
    /// Lower end of the `1 - ALPHA` (95%) confidence interval for `diff`.
    pub ci_low: f64,
    /// Upper end of that interval.
    pub ci_high: f64,
    /// Two-sided p-value of "no difference". Valid only when looked at once, at a horizon
    /// fixed in advance; for repeated looks use [`crate::Sequential`].
    pub p_value: f64,
    /// Users in the control arm.
    pub n_control: usize,
    /// Users in the treatment arm.
    pub n_treatment: usize,
}

impl Comparison {
    /// True when the difference is significant at [`ALPHA`].
    pub fn is_significant(&self) -> bool {
        self.p_value <= ALPHA
    }

    /// The variance of `diff` (`std_error²`).
    pub fn variance(&self) -> f64 {
        self.std_error * self.std_error
    }
}

/// Welch's t-test on per-user values: difference of means without assuming equal variances,
/// with Welch–Satterthwaite degrees of freedom (the same as `scipy.stats.ttest_ind(treatment,
/// control, equal_var=False)`).
///
/// Chosen over Student's pooled test because a treatment can change a metric's spread as well
/// as its mean, and over a plain z-test because early reports have few users per arm.
///
/// # Errors
/// [`StatsError::TooFewUsers`] below two users in an arm, [`StatsError::ZeroVariance`] when
/// every value is equal within each arm, [`StatsError::NonFinite`] on NaN or infinite input.
pub fn welch(control: &[f64], treatment: &[f64]) -> Result<Comparison, StatsError> {
    let c = moments(control, Arm::Control)?;
    let t = moments(treatment, Arm::Treatment)?;
    let var_c = c.var / c.n as f64;
    let var_t = t.var / t.n as f64;
    let variance = checked_variance(var_c + var_t)?;
    // Satterthwaite's df written with each arm's share of the variance, so that tiny
    // variances do not underflow when squared.
    let (share_c, share_t) = (var_c / variance, var_t / variance);
    let df = 1.0 / (share_c * share_c / (c.n - 1) as f64 + share_t * share_t / (t.n - 1) as f64);
    let diff = t.mean - c.mean;
    let std_error = variance.sqrt();
    let (p_value, quantile) = dist::student_t(diff / std_error, df)?;
    Ok(Comparison {
        control: c.mean,
        treatment: t.mean,
        diff,
        std_error,
        ci_low: diff - quantile * std_error,
        ci_high: diff + quantile * std_error,
        p_value,
        n_control: c.n,
        n_treatment: t.n,
    })
}

/// A ratio metric `sum(numerator) / sum(denominator)` per arm, for example CTR from per-user
/// `(clicks, impressions)`, compared with the delta method and a z-test.
///
/// The ratio weighs users by their denominator, as the metric on a dashboard does, while the
/// variance comes from per-user pairs: the delta method linearises the ratio around the arm's
/// means, `Var(R) ≈ (s²_num - 2R·s_num,den + R²·s²_den) / (n·mean_den²)`, so heavy users and
/// the correlation of a user's clicks with their impressions are both accounted for (Deng,
/// Knoblich, Lu 2018, "Applying the delta method in metric analytics"). A z-test rather than t
/// because the approximation itself is asymptotic.
///
/// # Errors
/// [`StatsError::TooFewUsers`] below two users in an arm, [`StatsError::ZeroDenominator`] when
/// an arm's denominators sum to zero, [`StatsError::ZeroVariance`] when the ratio cannot vary
/// (no clicks in either arm), [`StatsError::NonFinite`] on NaN or infinite input.
pub fn ratio_delta(
    control: &[(f64, f64)],
    treatment: &[(f64, f64)],
) -> Result<Comparison, StatsError> {
    let (ratio_c, var_c) = ratio_arm(control, Arm::Control)?;
    let (ratio_t, var_t) = ratio_arm(treatment, Arm::Treatment)?;
    let variance = checked_variance(var_c + var_t)?;
    let diff = ratio_t - ratio_c;
    let std_error = variance.sqrt();
    let (p_value, quantile) = dist::standard_normal(diff / std_error);
    Ok(Comparison {
        control: ratio_c,
        treatment: ratio_t,
        diff,
        std_error,
        ci_low: diff - quantile * std_error,
        ci_high: diff + quantile * std_error,
        p_value,
        n_control: control.len(),
        n_treatment: treatment.len(),
    })
}

/// One arm's ratio and the delta-method variance of it.
fn ratio_arm(pairs: &[(f64, f64)], arm: Arm) -> Result<(f64, f64), StatsError> {
    let m = pair_moments(pairs, arm)?;
    if m.mean_den == 0.0 {
        return Err(StatsError::ZeroDenominator { arm });
    }
    let ratio = m.mean_num / m.mean_den;
    let spread = m.var_num - 2.0 * ratio * m.cov + ratio * ratio * m.var_den;
    // The spread is the sample variance of `num - ratio·den`, never negative but for
    // rounding, which would otherwise turn into a NaN standard error.
    let var = spread.max(0.0) / (m.n as f64 * m.mean_den * m.mean_den);
    Ok((ratio, var))
}

/// The variance of a difference, refused when it is zero (no test statistic) or overflowed.
fn checked_variance(variance: f64) -> Result<f64, StatsError> {
    if !variance.is_finite() {
        return Err(StatsError::NonFinite {
            what: "the variance of the difference",
        });
    }
    if variance <= 0.0 {
        return Err(StatsError::ZeroVariance);
    }
    Ok(variance)
}
