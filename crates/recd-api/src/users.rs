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

/// Everything an operator looks at to understand one user's list
/// (`GET /v1/admin/users/{id}`): their profile, what the feature store holds for them, the
/// experiments they are in and the list they would get now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserLookupOut {
    /// External id.
    pub user_id: String,
    /// The profile, if one was written (`PUT /v1/users/{id}` or an import).
    pub profile: Option<UserOut>,
    /// Their real-time features (recent views, searches, negatives, session, event counts), if
    /// the feature store holds any.
    pub features: Option<crate::UserFeaturesOut>,
    /// Whether the served model was trained on this user's history (a personal list), rather
    /// than knowing them only from real-time features or not at all (cold start).
    pub known_to_model: bool,
    /// The list they would get now, ranked in full (no deadline, no cache) and not recorded
    /// as an impression: looking a user up does not count as showing them anything.
    pub recommendations: crate::RecommendationsOut,
}
