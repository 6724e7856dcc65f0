//! The error body every non-2xx response carries.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"error": {...}}`: the envelope keeps room for other top-level keys later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// One error. `code` is stable and meant for programs; `message` is for people and may change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code: `invalid_json`, `invalid_field`, `invalid_request`, `empty_body`,
    /// `payload_too_large`, `too_many_events`, `not_found`, `no_such_route`,
    /// `method_not_allowed`, `unavailable` or `internal`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The offending field as spelled in the request (`user_id`, `context.device`), if one is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Position of the offending entry in a batch request (0-based), if the request was a batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}
