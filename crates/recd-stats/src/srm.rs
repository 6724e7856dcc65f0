//! Sample-ratio mismatch: do the assignment counts fit the configured traffic shares?
//!
//! A mismatch means the assignment or the logging is broken (a variant that crashes before
//! logging, a bot filter that hits one arm harder), and every metric comparison of that
//! experiment is then suspect, whatever its p-value.

use crate::{StatsError, dist};

/// The p-value below which a report should flag a sample-ratio mismatch. Stricter than
/// [`crate::ALPHA`] because the check runs on every experiment at every look, and a false
/// alarm throws away a valid experiment; a real mismatch on a large experiment is typically
/// far below it anyway (Fabijan et al. 2019, "Diagnosing sample ratio mismatch in online
/// controlled experiments", use the same threshold).
pub const SRM_ALPHA: f64 = 0.001;

/// Chi-square goodness-of-fit p-value of assignment `counts` (users per variant) against the
/// configured `shares`, one per variant in the same order (the same as
/// `scipy.stats.chisquare(counts, f_exp)` with `f_exp` the shares scaled to the total).
///
/// Shares are normalised by their sum, so percentages (50, 50) and fractions (0.5, 0.5) mean
/// the same. A variant with share 0 expects nobody: users there make the p-value 0 (a
/// certain mismatch), and without users it drops out of the test.
///
/// # Errors
/// [`StatsError::InvalidShares`] when the lengths differ, there are fewer than two variants,
/// a share is negative or not finite, or all are zero; [`StatsError::NoAssignments`] when no
/// user was counted.
pub fn srm_p_value(counts: &[u64], shares: &[f64]) -> Result<f64, StatsError> {
    let total_share = checked_shares(counts.len(), shares)?;
    let total = counts.iter().map(|&c| c as f64).sum::<f64>();
    if total == 0.0 {
        return Err(StatsError::NoAssignments);
    }
    let mut stat = 0.0;
    let mut n_tested = 0;
    for (&count, &share) in counts.iter().zip(shares) {
        if share == 0.0 {
            if count > 0 {
                return Ok(0.0);
            }
            continue;
        }
        let expected = total * share / total_share;
        stat += (count as f64 - expected).powi(2) / expected;
        n_tested += 1;
    }
    // Only one variant can receive users and they are all there: nothing can mismatch.
    if n_tested < 2 {
        return Ok(1.0);
    }
    dist::chi_square_sf(stat, (n_tested - 1) as f64)
}

/// The shares' sum, after checking they can describe a split of `n_variants`.
fn checked_shares(n_variants: usize, shares: &[f64]) -> Result<f64, StatsError> {
    let invalid = |reason| Err(StatsError::InvalidShares { reason });
    if shares.len() != n_variants {
        return invalid("there must be one share per variant count");
    }
    if n_variants < 2 {
        return invalid("a split needs at least two variants");
    }
    if shares.iter().any(|s| !s.is_finite() || *s < 0.0) {
        return invalid("a share is negative or not finite");
    }
    let total = shares.iter().sum::<f64>();
    if !(total > 0.0 && total.is_finite()) {
        return invalid("the shares must have a positive, finite sum");
    }
    Ok(total)
}
