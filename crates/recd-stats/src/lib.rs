//! Statistics for recd's A/B experiments: the numbers an experiment report shows and a data
//! scientist would sign.
//!
//! Job: compare a control and a treatment arm on metrics analysed per user (the user is the
//! unit of randomisation, so one user's events are never treated as independent draws), and
//! say whether the assignment itself went wrong:
//! - [`welch`]: difference of per-user means, Welch's t-test and its confidence interval;
//! - [`ratio_delta`]: a ratio of sums such as CTR = clicks / impressions, compared with the
//!   delta method (z-test), which accounts for the correlation of a user's numerator and
//!   denominator;
//! - [`srm_p_value`]: sample-ratio mismatch, a chi-square goodness-of-fit of the assignment
//!   counts against the configured shares;
//! - [`Sequential`]: an always-valid p-value (mSPRT) for reports that are looked at while the
//!   experiment runs, where repeated fixed-horizon tests would inflate false positives.
//!
//! Non-goals: no IO, no event parsing, no aggregation of events into per-user values (the
//! caller owns that), no multiple-testing correction across metrics, no guardrail policy.
//!
//! Layout: `compare.rs` the two fixed-horizon tests and [`Comparison`]; `moments.rs` means and
//! (co)variances; `srm.rs`; `sequential.rs`; `dist.rs` the distribution functions (from
//! `statrs`); `error.rs`.

mod compare;
mod dist;
mod error;
mod moments;
mod sequential;
mod srm;

pub use compare::{Comparison, ratio_delta, welch};
pub use error::{Arm, StatsError};
pub use sequential::{Sequential, default_tau2};
pub use srm::{SRM_ALPHA, srm_p_value};

/// The significance level of every test here: confidence intervals are at `1 - ALPHA` (95%)
/// and a p-value at or below it is a rejection. One constant rather than a parameter because
/// a report that mixes levels across metrics is harder to read than one that never does.
pub const ALPHA: f64 = 0.05;
