//! `GET /healthz` and `GET /readyz`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Liveness and readiness report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthOut {
    /// `ok`; on `/readyz`, `starting` while the feature updater has not caught up with the log
    /// yet, or `not_ready` when this instance cannot answer (its log stopped accepting writes).
    pub status: String,
    /// Number of records in the event log (embedded log only).
    pub log_end_offset: u64,
    /// Log offset up to which features are applied, if known (embedded log only).
    pub features_applied_offset: Option<u64>,
    /// Which feature store backs this server (`embedded` or `redis`).
    pub feature_store: String,
    /// The state of every dependency (`/readyz` only): `log`, `feature_store`, `updater`,
    /// `model`. A shared dependency that is down does not make this instance unready (it
    /// answers from caches and fallbacks) unless `?strict=true` is asked for.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dependencies: BTreeMap<String, DependencyOut>,
}

/// One dependency's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DependencyOut {
    /// Whether it works now.
    pub up: bool,
    /// Why not, when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What it is (`redis`, `embedded`, a model version, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Log records not yet applied (the updater only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_records: Option<u64>,
    /// Acknowledged records lost to damaged bytes found in the log (the log only; see
    /// `recd log verify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_records: Option<u64>,
}
