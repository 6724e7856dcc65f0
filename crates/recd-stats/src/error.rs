//! Why a test could not be computed: either the data cannot support it yet, or the caller
//! passed something no experiment produces.

use std::fmt;

/// Which arm of a two-arm comparison an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    /// The baseline arm (subtracted from the treatment).
    Control,
    /// The arm under test.
    Treatment,
}

impl fmt::Display for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arm::Control => "control",
            Arm::Treatment => "treatment",
        })
    }
}

/// Why a statistic is not available.
///
/// [`StatsError::is_insufficient_data`] separates the two kinds: data that cannot support a
/// test *yet* (a report shows "not enough data" and waits) from input that no experiment
/// produces (the caller has a bug to fix).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// An arm has fewer users than a variance estimate needs. Insufficient data: an early
    /// experiment is in this state until users arrive.
    #[error("{arm} arm has {n_users} users; at least {min_users} are needed")]
    TooFewUsers {
        /// The arm that is short.
        arm: Arm,
        /// Users it has.
        n_users: usize,
        /// Users the test needs.
        min_users: usize,
    },
    /// Every user has the same value in both arms (for example no clicks at all), so the
    /// difference has no spread and no test statistic exists. Insufficient data: the first
    /// clicks make the test possible.
    #[error("the metric does not vary between users in either arm")]
    ZeroVariance,
    /// A ratio metric's denominator sums to zero in an arm (no impressions at all).
    /// Insufficient data, like an empty arm.
    #[error("the denominator sums to zero in the {arm} arm")]
    ZeroDenominator {
        /// The arm without denominator.
        arm: Arm,
    },
    /// No users were assigned at all, so there is no split to check. Insufficient data.
    #[error("no assignments to test")]
    NoAssignments,
    /// A value, or a sum of values, is NaN or infinite. Invalid input: per-user aggregates of
    /// counts and amounts are finite, so this is a bug upstream.
    #[error("{what} is not finite")]
    NonFinite {
        /// What was not finite.
        what: &'static str,
    },
    /// The configured traffic shares cannot describe a split (wrong length, negative, all
    /// zero). Invalid input: the experiment's configuration should have been rejected.
    #[error("invalid shares: {reason}")]
    InvalidShares {
        /// What is wrong with them.
        reason: &'static str,
    },
    /// A parameter of a sequential test is out of its range (a variance or a prior scale that
    /// is not a positive finite number). Invalid input.
    #[error("`{name}` must be positive and finite, got {value}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A distribution function rejected parameters that this crate's own checks should have
    /// excluded. Internal: a bug here, not in the caller's data.
    #[error("internal error in a distribution function: {reason}")]
    Internal {
        /// The distribution's own message.
        reason: String,
    },
}

impl StatsError {
    /// True when the test is not possible *yet* (too few users, no variation, no
    /// denominator): a report shows "not enough data" rather than an error.
    pub fn is_insufficient_data(&self) -> bool {
        match self {
            StatsError::TooFewUsers { .. }
            | StatsError::ZeroVariance
            | StatsError::ZeroDenominator { .. }
            | StatsError::NoAssignments => true,
            StatsError::NonFinite { .. }
            | StatsError::InvalidShares { .. }
            | StatsError::InvalidParameter { .. }
            | StatsError::Internal { .. } => false,
        }
    }

    pub(crate) fn internal(err: impl fmt::Display) -> Self {
        StatsError::Internal {
            reason: err.to_string(),
        }
    }
}
