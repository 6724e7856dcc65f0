//! `[serve.recommend]`: how recommendation requests are answered.

use std::collections::BTreeMap;

use recd_model::pipeline::CandidateConfig;
use serde::{Deserialize, Serialize};

/// How the final list is diversified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Diversity {
    /// No diversification: ranker order after the rules.
    None,
    /// At most `max_per_category` items of one category per 20 results, in ranker order.
    Cap,
    /// Maximal marginal relevance over content vectors (`mmr_lambda` trades relevance for
    /// novelty), then the category cap.
    Mmr,
}

/// Which of the model's rankers orders the candidates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankerChoice {
    /// The ranker training chose (the MLP or logistic regression), with the cascade.
    #[default]
    Model,
    /// The model's logistic ranker (its light ranker) alone, over the full candidates: an
    /// experiment arm comparing the two. A model without one uses its ranker.
    Logistic,
}

/// Recommendation settings. Every field has a default; see `config/recd.example.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecommendConfig {
    /// `num_results` when the request does not say.
    pub default_num_results: usize,
    /// Largest `num_results` accepted; more is a 400.
    pub max_num_results: usize,
    /// A request that has not been ranked after this long gets the precomputed popular list
    /// for its context, marked `fallback: true`.
    pub deadline_ms: u64,
    /// Threads that compute answers (0: one per core). A recommendation job still queued after
    /// half its request's deadline is not run: the request gets the fallback list then.
    pub compute_threads: usize,
    /// A recommendation job that starts more than this long after its request arrived, while
    /// the recent jobs also waited this long on average (the compute threads are behind, not
    /// just stalled for a moment), ranks with the model's light ranker over the candidates
    /// without the content generator (`CandidateConfig::degraded`), marked
    /// `degraded: true`. 0 degrades every request; half the deadline or more never does (such
    /// a job is shed first). Models without a light ranker use their ranker.
    ///
    /// The default, 2 ms, degrades few answers while the server keeps up, and when the host
    /// slows down it drains the queue sooner than 5 ms did, for a lower p99 at a small cost in
    /// quality (BENCHMARKS.md; the 2 ms against 5 ms runs are in bench/runs/2026-11-24.md).
    /// The mean keeps the few jobs a short stall of a shared VM delays from being degraded
    /// (`Compute::waited`).
    pub degrade_after_ms: u64,
    /// How long an answer is reused for the same user and context (0 turns the cache off).
    /// A new event of the user invalidates it at once.
    pub cache_ttl_ms: u64,
    /// Most answers kept in the cache (least recently used are dropped).
    pub cache_capacity: usize,
    /// Most memory the cached answers may hold, in MiB (0: a thirty-second of the machine's
    /// memory, or of the container's limit when lower); past it, least recently used answers
    /// are dropped, as past `cache_capacity`.
    pub cache_memory_budget_mb: u64,
    /// Name reported as `variant` in every answer.
    pub variant: String,
    /// Candidates per generator, the age of a new arrival and the cascade's head. Unset: the
    /// quotas the served model was evaluated with (`[train.candidates]`, from its manifest),
    /// so that what is served is what the publish gate measured. Set: these, for every model
    /// (their own defaults for keys the section leaves out).
    pub candidates: Option<CandidateConfig>,
    /// Which ranker orders the candidates: `model` or `logistic`.
    pub ranker: RankerChoice,
    /// Diversification of the final list.
    pub diversity: Diversity,
    /// Most items of one category per 20 results (scaled to the list length).
    pub max_per_category: usize,
    /// MMR's weight on relevance (1 = ranker order, 0 = novelty only).
    pub mmr_lambda: f32,
    /// Share of slots given to items outside the user's usual categories, chosen
    /// deterministically from the request id.
    pub exploration_share: f32,
    /// Score multiplier of sponsored items.
    pub sponsored_boost: f32,
    /// Score multiplier of new arrivals (created at most the quotas' `new_arrival_days` ago).
    pub new_arrival_boost: f32,
    /// Slots per answer given to catalog items added since the served model was trained
    /// (new arrivals by the same age limit), most similar to the user's recent items first.
    pub new_item_slots: usize,
    /// Items the newest searches propose as candidates, per search (0 turns search
    /// candidates off): the catalog items whose title, tags or category match its words best.
    pub search_candidates: usize,
    /// How many of the user's newest searches (within the features' TTL) propose candidates.
    pub search_queries: usize,
    /// Score multiplier of the items matching a recent search, once ranked.
    pub search_boost: f32,
    /// Places at the head of each answer (after pinned items) for the best-ranked items
    /// matching the user's recent searches, whatever their score (0: the boost alone).
    pub search_slots: usize,
    /// The words of the reasons, per catalog ("watched" for films, "bought" for a shop).
    pub reasons: ReasonWords,
    /// Items placed first, in order, per context (`homepage = ["item1"]`).
    pub pinned: BTreeMap<String, Vec<String>>,
    /// How often `models/CURRENT` is checked for a new version.
    pub model_poll_ms: u64,
    /// How often the catalog view (availability, sponsored, new items) is rebuilt when an item
    /// was written since the last build.
    pub catalog_refresh_ms: u64,
    /// Recompute a model's file checksums when loading it.
    pub verify_model: bool,
}

impl RecommendConfig {
    /// The answer cache's memory budget in bytes.
    pub fn cache_memory_budget_bytes(&self) -> u64 {
        recd_features::budget_bytes(self.cache_memory_budget_mb, 32)
    }
}

impl Default for RecommendConfig {
    fn default() -> Self {
        Self {
            default_num_results: 20,
            max_num_results: 200,
            deadline_ms: 50,
            compute_threads: 0,
            degrade_after_ms: 2,
            cache_ttl_ms: 5_000,
            cache_capacity: 100_000,
            cache_memory_budget_mb: 0,
            variant: "default".into(),
            candidates: None,
            ranker: RankerChoice::Model,
            diversity: Diversity::Cap,
            max_per_category: 5,
            mmr_lambda: 0.7,
            exploration_share: 0.1,
            sponsored_boost: 1.2,
            new_arrival_boost: 1.1,
            new_item_slots: 1,
            search_candidates: crate::search::DEFAULT_MATCHES,
            search_queries: crate::search::DEFAULT_QUERIES,
            search_boost: 1.5,
            search_slots: 2,
            reasons: ReasonWords::default(),
            pinned: BTreeMap::new(),
            model_poll_ms: 1_000,
            catalog_refresh_ms: 5_000,
            verify_model: true,
        }
    }
}

/// `[serve.recommend.reasons]`: the verb of "because you `<verb>` X" for each thing the user did
/// (real-time events carry their type), and for the history the model was trained on (whose
/// event types the model does not keep).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReasonWords {
    /// A view.
    pub view: String,
    /// A click.
    pub click: String,
    /// An add-to-cart.
    pub add_to_cart: String,
    /// A purchase.
    pub purchase: String,
    /// A like.
    pub like: String,
    /// A (positive) rating.
    pub rating: String,
    /// Trained history (any positive interaction before the model's cut).
    pub history: String,
}

impl Default for ReasonWords {
    fn default() -> Self {
        Self {
            view: "viewed".into(),
            click: "viewed".into(),
            add_to_cart: "added to your cart".into(),
            purchase: "bought".into(),
            like: "liked".into(),
            rating: "rated".into(),
            history: "liked".into(),
        }
    }
}

impl ReasonWords {
    /// The verb for an interaction of `kind` (`None`: trained history).
    pub fn verb(&self, kind: Option<recd_types::EventKind>) -> &str {
        use recd_types::EventKind as K;
        match kind {
            Some(K::View) => &self.view,
            Some(K::Click) => &self.click,
            Some(K::AddToCart) => &self.add_to_cart,
            Some(K::Purchase) => &self.purchase,
            Some(K::Like) => &self.like,
            Some(K::Rating) => &self.rating,
            // Negative kinds and searches never explain an item; the history word is safe.
            Some(K::Dislike | K::Skip | K::Search) | None => &self.history,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ReasonWords;
    use recd_types::EventKind;

    #[test]
    fn reasons_name_what_the_user_did() {
        let w = ReasonWords::default();
        assert_eq!(w.verb(Some(EventKind::Purchase)), "bought");
        assert_eq!(w.verb(Some(EventKind::AddToCart)), "added to your cart");
        assert_eq!(w.verb(Some(EventKind::View)), "viewed");
        assert_eq!(w.verb(None), "liked");
        let films = ReasonWords {
            view: "watched".into(),
            ..ReasonWords::default()
        };
        assert_eq!(films.verb(Some(EventKind::View)), "watched");
    }
}
