//! Feature read-outs: `GET /v1/users/{id}/features`, `GET /v1/items/{id}/features`,
//! `GET /v1/trending`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the feature store holds for one user (a debugging view; admin scope later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserFeaturesOut {
    /// External id.
    pub user_id: String,
    /// Last viewed items, newest first, each item once.
    pub recent_views: Vec<ViewOut>,
    /// Last search queries, newest first, each query once.
    pub recent_queries: Vec<QueryOut>,
    /// The current session, if any.
    pub session: Option<SessionOut>,
    /// Items the user disliked, skipped, rated low or only glanced at (a view or click shorter
    /// than the served model's `short_dwell_ms`), newest first: derived from the recent
    /// interactions under the served model's event weights.
    pub negative_items: Vec<NegativeItemOut>,
    /// Number of events per type while the features lived (keys are event types).
    pub counts: BTreeMap<String, u64>,
    /// Time of the newest event applied, ms since the epoch.
    pub last_event_at: i64,
    /// When these features expire unless a new event arrives, ms since the epoch.
    pub expires_at: i64,
    /// Log offset of the newest event applied.
    pub last_offset: u64,
    /// The nearline fold-in vector, if one was computed.
    pub vector: Option<UserVectorOut>,
}

/// One viewed item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ViewOut {
    /// Item id.
    pub item_id: String,
    /// When, ms since the epoch.
    pub timestamp: i64,
}

/// One search query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueryOut {
    /// The text searched.
    pub query: String,
    /// When, ms since the epoch.
    pub timestamp: i64,
}

/// One negative signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NegativeItemOut {
    /// Item id.
    pub item_id: String,
    /// The event type that made it negative (`dislike`, `skip`, `rating`).
    pub reason: String,
    /// When, ms since the epoch.
    pub timestamp: i64,
}

/// The user's current session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionOut {
    /// The client's session id, or null for a session inferred from an inactivity gap.
    pub session_id: Option<String>,
    /// First event of the session, ms since the epoch.
    pub started_at: i64,
    /// Newest event of the session, ms since the epoch.
    pub last_event_at: i64,
    /// Number of events in the session.
    pub n_events: u64,
    /// Category of the newest item event in the session.
    pub current_category: Option<String>,
    /// Distinct pages of the session, newest first.
    pub pages: Vec<String>,
    /// Device of the newest event that named one.
    pub device: Option<String>,
}

/// A user vector folded in nearline against the current item factors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserVectorOut {
    /// Version of the model whose item factors were used.
    pub model_version: String,
    /// The vector.
    pub values: Vec<f32>,
    /// Number of distinct items that entered the solve.
    pub n_items: u32,
    /// Time of the newest event taken into account, ms since the epoch.
    pub computed_at: i64,
}

/// Trending counters of one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ItemFeaturesOut {
    /// Item id.
    pub item_id: String,
    /// Category, as known when the last event was applied.
    pub category: Option<String>,
    /// Engagement events in the last hour.
    pub count_1h: u64,
    /// Engagement events in the last 24 hours.
    pub count_24h: u64,
}

/// `GET /v1/trending`: the most engaged items and categories of a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrendingOut {
    /// `1h` or `24h`.
    pub window: String,
    /// The category filter, if one was asked for.
    pub category: Option<String>,
    /// Items, most engaged first.
    pub items: Vec<TrendingItemOut>,
    /// Categories, most engaged first (only without a category filter).
    pub categories: Vec<CategoryCountOut>,
}

/// One trending item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrendingItemOut {
    /// Item id.
    pub item_id: String,
    /// Engagement events in the window.
    pub count: u64,
}

/// One category's popularity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CategoryCountOut {
    /// Category.
    pub category: String,
    /// Engagement events in the window.
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use crate::{ErrorBody, EventIn};

    #[test]
    fn event_requests_refuse_unknown_fields_and_rename_type() {
        let e: EventIn =
            serde_json::from_str(r#"{"user_id":"u","item_id":"i","type":"view"}"#).unwrap();
        assert_eq!(e.kind.as_deref(), Some("view"));
        let err = serde_json::from_str::<EventIn>(r#"{"user":"u"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `user`"), "{err}");
    }

    #[test]
    fn error_body_leaves_out_absent_field_and_index() {
        let body = ErrorBody {
            error: crate::ErrorDetail {
                code: "not_found".into(),
                message: "no such user".into(),
                field: None,
                index: None,
            },
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":{"code":"not_found","message":"no such user"}}"#
        );
    }
}
