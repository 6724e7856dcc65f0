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
