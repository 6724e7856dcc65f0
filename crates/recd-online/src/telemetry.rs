//! HELP text of the engine's metrics (answers by outcome, stage timings, the answer cache,
//! model swaps), described once for whichever process runs the engine.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Describes the engine's metrics to the installed recorder.
pub fn describe_metrics() {
    describe_counter!(
        "recd_recommendations_total",
        "Recommendation answers by outcome: ranked (full pipeline), ranked_light (degraded: light ranker), cached, deadline (precomputed fallback), no_model."
    );
    describe_counter!(
        "recd_answer_cache_evictions_total",
        "Cached recommendation answers dropped, least recently used first, to stay within [serve.recommend] cache_capacity and cache_memory_budget_mb."
    );
    describe_gauge!(
        "recd_answer_cache_memory_bytes",
        Unit::Bytes,
        "Estimated bytes held by the cached recommendation answers."
    );
    describe_gauge!(
        "recd_answer_cache_memory_budget_bytes",
        Unit::Bytes,
        "The answer cache's memory budget ([serve.recommend] cache_memory_budget_mb)."
    );
    describe_counter!(
        "recd_recommend_candidates_total",
        "Candidates proposed per generator (an item proposed by two counts for both)."
    );
    describe_histogram!(
        "recd_recommend_stage_seconds",
        Unit::Seconds,
        "Time spent in each stage of answering a recommendation request."
    );
    describe_counter!(
        "recd_model_swaps_total",
        "Times a new model version was loaded and swapped in."
    );
    describe_counter!(
        "recd_catalog_view_builds_total",
        "Rebuilds of the serving view of the catalog (availability, sponsored, new items)."
    );
}
