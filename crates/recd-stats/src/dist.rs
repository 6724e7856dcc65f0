//! The three distributions the tests need, from `statrs`.
//!
//! `statrs` without default features (no nalgebra, no rand) adds two small crates to the
//! build; its `libm`/`num-traits` dependencies are already built for arrow. Its tails are
//! computed directly (the t survival function from the regularized incomplete beta, the
//! chi-square one from the upper regularized gamma), not as `1 - cdf`, so p-values far below
//! 1e-16 keep their digits, which a sample-ratio alarm on a large experiment needs.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

use crate::{ALPHA, StatsError};

/// The two-sided p-value of `t_stat` under Student's t with `df` degrees of freedom, and the
/// `1 - ALPHA / 2` quantile that scales the confidence interval.
pub(crate) fn student_t(t_stat: f64, df: f64) -> Result<(f64, f64), StatsError> {
    let dist = StudentsT::new(0.0, 1.0, df).map_err(StatsError::internal)?;
    let p_value = (2.0 * dist.sf(t_stat.abs())).min(1.0);
    Ok((p_value, dist.inverse_cdf(1.0 - ALPHA / 2.0)))
}

/// The two-sided p-value of `z` under the standard normal, and its `1 - ALPHA / 2` quantile.
pub(crate) fn standard_normal(z: f64) -> (f64, f64) {
    let dist = Normal::standard();
    let p_value = (2.0 * dist.sf(z.abs())).min(1.0);
    (p_value, dist.inverse_cdf(1.0 - ALPHA / 2.0))
}

/// The standard normal quantile at `p`.
pub(crate) fn normal_quantile(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p)
}

/// P(X >= stat) for X chi-square with `df` degrees of freedom.
pub(crate) fn chi_square_sf(stat: f64, df: f64) -> Result<f64, StatsError> {
    let dist = ChiSquared::new(df).map_err(StatsError::internal)?;
    Ok(dist.sf(stat))
}
