//! `GET /v1/admin/models`: the model registry as this server sees it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The registry's pointers, every version, and what this server holds in memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelsOut {
    /// The version servers answer with (`CURRENT`); `null` before the first training.
    pub current: Option<String>,
    /// The version waiting for a gradual rollout (`CANDIDATE`, `[train] rollout =
    /// "candidate"`), made current by `recd models promote`.
    pub candidate: Option<String>,
    /// The version `recd models rollback` returns to.
    pub previous: Option<String>,
    /// Every earlier `CURRENT` remembered for rollback, oldest first (`previous` is the last).
    pub history: Vec<String>,
    /// The versions this server holds in memory: the one it serves, then the candidate while
    /// traffic is routed to it.
    pub resident: Vec<String>,
    /// The cap on resident versions (`[serve] max_resident_models`).
    pub max_resident_models: u64,
    /// Every complete version on disk, oldest first.
    pub versions: Vec<ModelVersionOut>,
    /// The gradual rollout of candidates (`[serve.rollout]`): the one in progress and every
    /// step so far. Absent where rollouts do not run (a fleet, a remote model store, or
    /// `enabled = false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutOut>,
}

/// The gradual rollout: the candidate being served to a share of users, and the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolloutOut {
    /// The rollout in progress, if any.
    pub active: Option<RolloutActiveOut>,
    /// Every step, oldest first (the newest 200).
    pub steps: Vec<RolloutStepOut>,
}

/// A rollout in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolloutActiveOut {
    /// The candidate version.
    pub candidate: String,
    /// The version it is compared with.
    pub current: String,
    /// The step's experiment (`rollout-<candidate>-<share>`; its report is the experiment
    /// report).
    pub experiment: String,
    /// The candidate's share of users now, percent.
    pub share: f64,
    /// The always-valid p-value of the CTR difference in this step so far.
    pub p_value: f64,
}

/// One step of a rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolloutStepOut {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// The candidate version.
    pub candidate: String,
    /// The version it was compared with.
    pub current: String,
    /// `started`, `ramped`, `promoted`, `rolled_back` or `abandoned`.
    pub action: String,
    /// The candidate's share of users after the step, percent.
    pub share: f64,
    /// Why.
    pub reason: String,
    /// Items the current model's variant had shown.
    pub current_impressions: u64,
    /// Items the candidate had shown.
    pub candidate_impressions: u64,
    /// The current model's CTR so far.
    pub current_ctr: Option<f64>,
    /// The candidate's CTR so far.
    pub candidate_ctr: Option<f64>,
    /// The always-valid p-value of the CTR difference in the step that ended here.
    pub p_value: f64,
}

/// One model version, from its manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelVersionOut {
    /// The version (its directory name under `models/`).
    pub version: String,
    /// When its training finished, ms since the epoch.
    pub created_ms: i64,
    /// The pipeline's NDCG@10 on its hold-out, if evaluated.
    pub ndcg_at_10: Option<f64>,
    /// Its place in the registry, if any.
    pub role: Option<ModelRole>,
    /// Whether this server holds it in memory.
    pub resident: bool,
    /// Whether the publish gate let it be placed (null for versions published before the gate
    /// was recorded).
    pub gate_passed: Option<bool>,
    /// The gate's decision in words, naming both numbers compared.
    pub gate_decision: Option<String>,
}

/// A version's place in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelRole {
    /// `CURRENT`: what servers answer with.
    Current,
    /// `CANDIDATE`: waiting for rollout.
    Candidate,
    /// Where a rollback goes.
    Previous,
}
