//! `PUT /v1/users/{id}`: profile and declared interests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user profile as clients send it. The id comes from the path; a body `id`, if present,
/// must match. A PUT replaces the whole profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    /// Must equal the path's id when present.
    pub id: Option<String>,
    /// When the user signed up, ms since the epoch.
    pub signup: Option<i64>,
    /// Country code or name.
    pub country: Option<String>,
    /// Age in years.
    pub age: Option<u8>,
    /// `female`, `male` or `other`.
    pub gender: Option<String>,
    /// Declared interests (categories or tags).
    #[serde(default)]
    pub interests: Vec<String>,
    /// Free string attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// A user profile as the server reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserOut {
    /// External id.
    pub id: String,
    /// When the user signed up, ms since the epoch.
    pub signup: Option<i64>,
    /// Country.
    pub country: Option<String>,
    /// Age in years.
    pub age: Option<u8>,
    /// `female`, `male` or `other`.
    pub gender: Option<String>,
    /// Declared interests.
    pub interests: Vec<String>,
    /// Free string attributes.
    pub attributes: BTreeMap<String, String>,
}
