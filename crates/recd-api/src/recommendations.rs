//! `GET /v1/recommendations` (alias `GET /recommendations`) and `GET /v1/items/{id}/similar`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A ranked, explained list for one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecommendationsOut {
    /// Unique id of this answer; clients send it back with the events it led to
    /// (`request_id` of an event), and exploration slots are chosen from it.
    pub request_id: String,
    /// Whose list.
    pub user_id: String,
    /// The model version that produced the list; `null` when no model is loaded yet.
    pub model_version: Option<String>,
    /// The serving variant: `"<experiment>/<variant>"` of the first layer in which the user is
    /// in a running experiment, else `[serve.recommend] variant` (default `default`).
    pub variant: String,
    /// Every experiment variant the user is in (`"<experiment>/<variant>"`, one per layer).
    #[serde(default)]
    pub experiments: Vec<String>,
    /// True when the list is the precomputed popular list for the context rather than a
    /// personal one: the request deadline passed, or no model is loaded.
    pub fallback: bool,
    /// True when the list was ranked by the model's light ranker (logistic regression beside
    /// the MLP) because the server was behind (`degrade_after_ms`): personal, but ranked by
    /// the cheaper model.
    #[serde(default)]
    pub degraded: bool,
    /// Server time spent on the request, in milliseconds.
    pub took_ms: f64,
    /// Best first.
    pub items: Vec<RecommendedItemOut>,
}

/// One recommended item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecommendedItemOut {
    /// External item id.
    pub item_id: String,
    /// Ranking score (the ranker's probability, after business-rule boosts); higher is better.
    pub score: f32,
    /// What proposed it: `item_knn`, `als`, `content`, `popular`, `trending`, `new_arrivals`,
    /// `segment` (popular in the user's demographic segment), `search` (matches a recent search),
    /// `exploration` or `pinned`.
    pub source: String,
    /// Why, in words: "because you bought X" (the verb per `[serve.recommend.reasons]`),
    /// "something different: C" (an exploration slot), "similar to your recent views",
    /// "trending in C", "new arrival", "popular with people like you", "popular".
    pub reason: String,
}

/// Items like one item ("you may also like").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SimilarOut {
    /// The item asked about.
    pub item_id: String,
    /// This answer's id: events that come from it (a click on one of its items) carry it as
    /// `request_id`, which attributes them to this showing.
    pub request_id: String,
    /// The model version that produced the list.
    pub model_version: String,
    /// Server time spent on the request, in milliseconds.
    pub took_ms: f64,
    /// Most similar first.
    pub items: Vec<SimilarItemOut>,
}

/// One similar item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SimilarItemOut {
    /// External item id.
    pub item_id: String,
    /// Blended similarity; higher is more similar.
    pub score: f32,
    /// The strongest evidence: `item_knn` (co-interactions), `als` (embedding neighbours) or
    /// `content` (metadata, for items with few or no interactions).
    pub source: String,
    /// Why, in words.
    pub reason: String,
}
