//! `GET /healthz` and `GET /readyz`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Liveness and readiness report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthOut {
    /// `ok`, or `starting` while the feature store is still being rebuilt.
    pub status: String,
    /// Number of records in the event log.
    pub log_end_offset: u64,
    /// Log offset up to which features are applied, if known.
    pub features_applied_offset: Option<u64>,
    /// Which feature store backs this server (`embedded` or `redis`).
    pub feature_store: String,
}
