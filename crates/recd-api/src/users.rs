//! `PUT /v1/users/{id}`: profile and declared interests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user profile as clients send it. The id comes from the path; a body `id`, if present,
/// must match. A PUT replaces the whole profile. Texts are at most 1024 bytes without control
/// characters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    /// Must equal the path's id when present.
    #[schema(min_length = 1, max_length = 256)]
    pub id: Option<String>,
    /// When the user signed up, ms since the epoch (not before 1970).
    #[schema(minimum = 0)]
    pub signup: Option<i64>,
    /// Country code or name.
    #[schema(max_length = 1024)]
    pub country: Option<String>,
    /// Age in years, at most 130.
    #[schema(maximum = 130)]
    pub age: Option<u8>,
    /// `female`, `male` or `other` (also `f`, `m`, `o`, `x`, in any case).
    pub gender: Option<String>,
    /// Declared interests (categories or tags), at most 64.
    #[serde(default)]
    #[schema(max_items = 64)]
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
