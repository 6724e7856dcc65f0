//! Means and sample (co)variances of one arm's per-user values.
//!
//! Two passes (the mean first, then squared deviations from it) rather than running sums of
//! squares: per-user values such as revenue can be large with a small spread, where
//! `sum(x²) - n·mean²` cancels catastrophically.

use crate::{Arm, StatsError};

/// What a test needs of one arm's values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Moments {
    /// Users in the arm.
    pub n: usize,
    /// Mean per-user value.
    pub mean: f64,
    /// Sample variance (divided by `n - 1`).
    pub var: f64,
}

/// Moments of an arm of a ratio metric: per-user (numerator, denominator) pairs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairMoments {
    /// Users in the arm.
    pub n: usize,
    /// Mean numerator.
    pub mean_num: f64,
    /// Mean denominator.
    pub mean_den: f64,
    /// Sample variance of the numerators.
    pub var_num: f64,
    /// Sample variance of the denominators.
    pub var_den: f64,
    /// Sample covariance of a user's numerator and denominator.
    pub cov: f64,
}

/// Every variance estimate needs two users; one user says nothing about spread.
const MIN_USERS: usize = 2;

fn check_len(n: usize, arm: Arm) -> Result<(), StatsError> {
    if n < MIN_USERS {
        return Err(StatsError::TooFewUsers {
            arm,
            n_users: n,
            min_users: MIN_USERS,
        });
    }
    Ok(())
}

fn non_finite(arm: Arm) -> StatsError {
    StatsError::NonFinite {
        what: match arm {
            Arm::Control => "a control value (or a sum of them)",
            Arm::Treatment => "a treatment value (or a sum of them)",
        },
    }
}

/// Mean and sample variance of `values`; at least two users, all finite.
pub(crate) fn moments(values: &[f64], arm: Arm) -> Result<Moments, StatsError> {
    check_len(values.len(), arm)?;
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // A NaN or infinite input makes both non-finite, so one check after the sums covers the
    // inputs and an overflow of the sums alike.
    if !(mean.is_finite() && var.is_finite()) {
        return Err(non_finite(arm));
    }
    Ok(Moments {
        n: values.len(),
        mean,
        var,
    })
}

/// Means, sample variances and covariance of (numerator, denominator) pairs.
pub(crate) fn pair_moments(pairs: &[(f64, f64)], arm: Arm) -> Result<PairMoments, StatsError> {
    check_len(pairs.len(), arm)?;
    let n = pairs.len() as f64;
    let mean_num = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_den = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut ss_num, mut ss_den, mut cross) = (0.0, 0.0, 0.0);
    for &(num, den) in pairs {
        let (d_num, d_den) = (num - mean_num, den - mean_den);
        ss_num += d_num * d_num;
        ss_den += d_den * d_den;
        cross += d_num * d_den;
    }
    let res = PairMoments {
        n: pairs.len(),
        mean_num,
        mean_den,
        var_num: ss_num / (n - 1.0),
        var_den: ss_den / (n - 1.0),
        cov: cross / (n - 1.0),
    };
    let all = [
        res.mean_num,
        res.mean_den,
        res.var_num,
        res.var_den,
        res.cov,
    ];
    if !all.iter().all(|x| x.is_finite()) {
        return Err(non_finite(arm));
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_pass_variance_survives_a_large_offset() {
        // Around 1e9 the one-pass formula loses every digit of a variance of 1.
        let values: Vec<f64> = [-1.0, 0.0, 1.0].iter().map(|x| 1e9 + x).collect();
        let m = moments(&values, Arm::Control).unwrap();
        assert_eq!(m.var, 1.0);
        assert_eq!(m.mean, 1e9);
    }

    #[test]
    fn covariance_matches_hand_computation() {
        // x = 1, 2, 3; y = 2, 2, 5: means 2 and 3, cov = ((-1)(-1) + 0 + (1)(2)) / 2 = 1.5.
        let m = pair_moments(&[(1.0, 2.0), (2.0, 2.0), (3.0, 5.0)], Arm::Treatment).unwrap();
        assert_eq!((m.mean_num, m.mean_den), (2.0, 3.0));
        assert_eq!((m.var_num, m.var_den, m.cov), (1.0, 3.0, 1.5));
    }
}
