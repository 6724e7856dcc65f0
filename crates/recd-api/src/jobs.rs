//! `POST /v1/admin/train`, `GET /v1/admin/jobs`, `DELETE /v1/admin/jobs/{id}`: training runs
//! started by the server (on its schedule or on request).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobOut {
    /// Its number, counted up by this data dir's server.
    pub id: u64,
    /// What started it: `schedule` or `api`.
    pub trigger: String,
    /// `running`, `succeeded` (trained and published; see `activated`), `failed`,
    /// `cancelled`, `timed_out`, `memory_exceeded` or `skipped` (another training of the
    /// fleet held the fleet's training lock).
    pub state: String,
    /// When it started, ms since the epoch.
    pub started_ms: i64,
    /// When it ended, ms since the epoch (absent while running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
    /// The model version it published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Whether the publish gate made that version current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated: Option<bool>,
    /// Whether it became the registry's candidate instead (`[train] rollout = "candidate"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<bool>,
    /// The publish gate's decision, with both numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateOut>,
    /// Why it did not succeed: the last lines the training wrote, or the limit it passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Its output (progress and errors), in the data dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
    /// In a fleet, the API process that ran it (its member id; `id` and `log_file` are that
    /// process's). Absent for a single server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// The publish gate's decision on a new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GateOut {
    /// The new version's pipeline NDCG@10 that was compared: on the part of its hold-out the
    /// current version never saw when `method` is `rescored`, else on its whole hold-out.
    pub candidate_ndcg: f64,
    /// The version that was current when training started, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
    /// Its pipeline NDCG@10 that was compared: re-scored on the same users and items when
    /// `method` is `rescored`, else the number stored from its own hold-out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_ndcg: Option<f64>,
    /// How the two numbers were obtained: `rescored`, `stored` (too few users after the
    /// current version's training cut, or it could not be loaded) or `no_current`. Absent
    /// for runs recorded by builds before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Users with relevant items behind the compared numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    /// The decision in words.
    pub decision: String,
}

/// Training runs, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobsOut {
    /// Running and past runs.
    pub jobs: Vec<JobOut>,
}

/// What `recd train --outcome FILE` writes when it has published a version: how the server
/// learns the result of a run it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcomeOut {
    /// The version published.
    pub version: String,
    /// Whether it became current.
    pub activated: bool,
    /// Whether it became the candidate.
    #[serde(default)]
    pub candidate: bool,
    /// The gate's decision.
    pub gate: GateOut,
}
