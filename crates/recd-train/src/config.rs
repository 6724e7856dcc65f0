//! `[train]` configuration: what `recd train` reads, how it weighs events, and every model's
//! hyper-parameters. Defaults were chosen on the ml-100k validation split (BENCHMARKS.md).

use recd_model::ScoringParams;
use recd_model::pipeline::CandidateConfig;
pub use recd_types::{EventWeights, Signal};
use serde::{Deserialize, Serialize};

use crate::als::AlsConfig;
pub use crate::schedule::{JobConfig, ScheduleConfig};

/// The `[train]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Days of history to read, counted back from the newest event (the seed's daily job:
    /// 30). A historical data set, whose newest event is older than the window (MovieLens
    /// ends in 1998), is read whole rather than cut to its last month. `0` (what
    /// `recd train --all` sets) reads everything.
    #[serde(deserialize_with = "zero_is_all")]
    pub window_days: Option<f64>,
    /// Days at the end of the window held out for evaluation (seed: the last 7 days).
    pub holdout_days: f64,
    /// Part of each user's history (the newest) whose items label the ranker's examples.
    pub ranker_label_fraction: f64,
    /// Confidence per event type and the rating map.
    pub weights: EventWeights,
    /// Optional time decay of confidences: half-life in days (`None` = no decay).
    pub decay_half_life_days: Option<f64>,
    /// A relevant item (evaluation) and a positive ranker label need at least this confidence.
    pub relevance_min_confidence: f32,
    /// Implicit ALS.
    pub als: AlsParams,
    /// Item-to-item collaborative filtering.
    pub item_knn: ItemKnnParams,
    /// Trending: half-life of the time decay, in days.
    pub trending_half_life_days: f64,
    /// Content vector dimensions.
    pub content_dim: usize,
    /// Scoring parameters stored with the model.
    pub scoring: ScoringParams,
    /// Candidate counts per generator.
    pub candidates: CandidateConfig,
    /// The learned ranker.
    pub ranker: RankerParams,
    /// The publish gate: the new model's pipeline NDCG@10 may be at most this much below the
    /// current one's (absolute), both scored on the part of the hold-out after the current
    /// model's training cut.
    pub gate_tolerance: f64,
    /// The gate compares NDCG only over a hold-out of at least this many users with relevant
    /// items; below it a new model is refused (or, the very first one, activated with a
    /// warning). When the part of the hold-out after the current model's training cut has
    /// fewer, the gate compares with the current model's stored NDCG instead, and says so.
    pub gate_min_users: usize,
    /// After evaluation, refit the generators on the whole window (hold-out included) before
    /// publishing, so the published model knows the newest week.
    pub refit_on_full: bool,
    /// Threads for training (0 = all cores).
    pub threads: usize,
    /// At most this many hold-out users are evaluated (a deterministic sample): metrics need
    /// thousands of users, not millions, and each costs a full pipeline run.
    pub max_eval_users: usize,
    /// When `recd serve` runs training by itself.
    pub schedule: ScheduleConfig,
    /// Limits of a training run started by the server.
    pub job: JobConfig,
    /// Where a model that passes the publish gate goes: `direct` makes it `CURRENT` at once;
    /// `candidate` makes it the registry's `CANDIDATE`, which servers load only once traffic
    /// is routed to it and which `recd models promote` makes current (a gradual rollout). The
    /// very first model becomes `CURRENT` either way: there is nothing to serve otherwise.
    pub rollout: Rollout,
    /// After each publish, model versions older than the newest this-many are deleted (never
    /// `CURRENT`, the candidate or the rollback target); `recd models gc` does the same on
    /// demand. 0 keeps every version.
    pub keep_versions: usize,
    /// The speed layer's session gap (`[features] session_gap_secs`, in ms), set by whoever
    /// loads the whole configuration: the ranker's session context is cut where serving cuts
    /// it. Not a `[train]` key.
    #[serde(skip)]
    pub session_gap_ms: i64,
}

/// The rollout policy of `[train] rollout`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rollout {
    /// A model that passes the gate becomes `CURRENT`.
    #[default]
    Direct,
    /// A model that passes the gate becomes the `CANDIDATE`.
    Candidate,
}

/// `window_days`: a positive number of days, or 0 / absent-when-unset for all history.
fn zero_is_all<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let days = Option::<f64>::deserialize(d)?;
    Ok(days.filter(|d| *d > 0.0))
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            window_days: Some(30.0),
            holdout_days: 7.0,
            ranker_label_fraction: 0.2,
            weights: EventWeights::default(),
            decay_half_life_days: None,
            relevance_min_confidence: 4.0,
            als: AlsParams::default(),
            item_knn: ItemKnnParams::default(),
            trending_half_life_days: 7.0,
            content_dim: 128,
            scoring: ScoringParams::default(),
            candidates: CandidateConfig::default(),
            ranker: RankerParams::default(),
            gate_tolerance: 0.005,
            gate_min_users: 100,
            refit_on_full: true,
            threads: 0,
            max_eval_users: 20_000,
            schedule: ScheduleConfig::default(),
            job: JobConfig::default(),
            rollout: Rollout::Direct,
            keep_versions: 10,
            session_gap_ms: 30 * 60_000,
        }
    }
}

/// ALS hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlsParams {
    /// Vector length.
    pub factors: usize,
    /// L2 penalty.
    pub regularization: f32,
    /// Confidence scale.
    pub alpha: f32,
    /// Iterations.
    pub iterations: usize,
    /// Random seed.
    pub seed: u64,
}

impl Default for AlsParams {
    fn default() -> Self {
        Self {
            factors: 64,
            regularization: 10.0,
            alpha: 1.0,
            iterations: 15,
            seed: 42,
        }
    }
}

impl AlsParams {
    /// The fit configuration.
    pub fn to_config(&self) -> AlsConfig {
        AlsConfig {
            factors: self.factors,
            regularization: self.regularization,
            alpha: self.alpha,
            iterations: self.iterations,
            seed: self.seed,
            ..AlsConfig::default()
        }
    }
}

/// Item-to-item CF hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ItemKnnParams {
    /// Neighbours kept per item.
    pub k: usize,
    /// Shrinkage added to the cosine denominator (damps pairs seen together only a few times).
    pub shrinkage: f32,
    /// Only each user's most recent this-many items count for co-occurrence (bounds the
    /// quadratic cost of heavy users).
    pub max_items_per_user: usize,
}

impl Default for ItemKnnParams {
    fn default() -> Self {
        Self {
            k: 100,
            shrinkage: 0.0,
            max_items_per_user: 500,
        }
    }
}

/// Ranker hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RankerParams {
    /// `logistic`, `mlp`, or `auto` (train both, keep the better on the validation slice).
    pub kind: String,
    /// Hidden layer widths of the MLP (seed 001: 128-64-32).
    pub hidden: Vec<usize>,
    /// Maximum MLP epochs (early stopping on the validation slice decides the real number).
    pub epochs: usize,
    /// Adam learning rate.
    pub learning_rate: f32,
    /// L2 penalty.
    pub l2: f32,
    /// Share of users whose examples form the validation slice.
    pub validation_fraction: f64,
    /// At most this many negatives per user, sampled uniformly from their candidates.
    pub max_negatives_per_user: usize,
    /// At most this many users give examples (a deterministic sample): the ranker has a few
    /// dozen weights per feature, and a million users' candidates would take hours to build.
    pub max_users: usize,
    /// Seed for the split and the MLP initialisation.
    pub seed: u64,
    /// Where the data dir's impressions log recorded what a user was shown during their tail,
    /// take their negatives from it (shown, not engaged with) instead of from their
    /// unlabelled candidates.
    pub negatives_from_impressions: bool,
}

impl Default for RankerParams {
    fn default() -> Self {
        Self {
            kind: "auto".into(),
            hidden: vec![128, 64, 32],
            epochs: 30,
            learning_rate: 1e-3,
            l2: 1e-5,
            validation_fraction: 0.2,
            max_negatives_per_user: 300,
            max_users: 20_000,
            seed: 7,
            negatives_from_impressions: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_rejects_unknown_keys() {
        let c = TrainConfig::default();
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<TrainConfig>(&text).unwrap(), c);
        assert!(serde_json::from_str::<TrainConfig>(r#"{"holdout_dayz": 3}"#).is_err());
    }
}
