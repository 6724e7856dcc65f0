//! `GET /v1/recommendations` (and the alias `GET /recommendations`).
//!
//! The handler validates the parameters, reads the user's real-time features (async), then
//! runs the CPU work on the compute pool (`compute.rs`) under the deadline. A request that
//! misses the deadline, or whose job waited more than half of it in the pool's queue (shed
//! without running), gets the precomputed popular list for its context with `fallback: true`;
//! a computation that started still finishes and fills the cache (unless it was degraded to
//! the light ranker), so the user's next request is personal again. Without a loaded model the
//! answer is the feature store's trending items (24 h window), also marked `fallback: true`
//! with `model_version: null`: a new deployment answers something sensible before its first
//! training instead of failing.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use recd_api::{ErrorBody, RecommendationsOut, RecommendedItemOut};
use recd_features::{TrendingQuery, Window};
use recd_types::UserId;

use super::{QueryParams, now_ms};
use crate::recommend::{self, Answer, AnswerItem, CacheKey, Known, Params};
use crate::{ApiError, AppState};

const PARAMS: [&str; 7] = [
    "user_id",
    "num_results",
    "offset",
    "context",
    "device",
    "category",
    "request_id",
];

fn bad(field: &str, message: String) -> ApiError {
    ApiError::InvalidField {
        index: None,
        field: field.to_string(),
        message,
    }
}

/// A short token (context, device, request id): letters, digits, `_`, `-`, `.`, `:`.
fn token(params: &HashMap<String, String>, field: &str) -> Result<Option<String>, ApiError> {
    match params.get(field) {
        None => Ok(None),
        Some(v)
            if (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b)) =>
        {
            Ok(Some(v.clone()))
        }
        Some(v) => Err(bad(
            field,
            format!("{v:?} must be 1 to 128 letters, digits, '_', '-', '.' or ':'"),
        )),
    }
}

/// A new request id: unique within the process and unlikely to repeat across restarts.
fn new_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:016x}",
        crate::postprocess::mix(start ^ crate::postprocess::mix(n))
    )
}

/// A validated request: what to compute, and which part of it to answer.
struct Parsed {
    /// `n` is `num_results + offset`: the list is ranked to that depth.
    params: Params,
    /// The client sent `request_id` (the answer is then neither read from nor kept for the
    /// cache under another id).
    explicit_id: bool,
    /// Leading items of the ranked list left out of the answer.
    offset: usize,
}

fn parse(state: &AppState, params: &HashMap<String, String>) -> Result<Parsed, ApiError> {
    if let Some(p) = params.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return Err(bad(
            p,
            format!(
                "unknown parameter {p:?}; expected one of {}",
                PARAMS.join(", ")
            ),
        ));
    }
    let config = &state.config.recommend;
    let user_id = params
        .get("user_id")
        .ok_or_else(|| bad("user_id", "is required".into()))?;
    let user_id = UserId::parse(user_id.clone()).map_err(|e| ApiError::field(None, e))?;
    let n = match params.get("num_results") {
        None => config.default_num_results,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=config.max_num_results).contains(n))
            .ok_or_else(|| {
                bad(
                    "num_results",
                    format!("{v:?} is not a number from 1 to {}", config.max_num_results),
                )
            })?,
    };
    let max = config.max_num_results;
    let offset = match params.get("offset") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|o| *o <= max - n)
            .ok_or_else(|| {
                bad(
                    "offset",
                    format!(
                        "{v:?} is not a number from 0 to {}: num_results + offset is at most {max}",
                        max - n
                    ),
                )
            })?,
    };
    let given_id = token(params, "request_id")?;
    let explicit_id = given_id.is_some();
    Ok(Parsed {
        params: Params {
            user_id: user_id.to_string(),
            n: n + offset,
            context: token(params, "context")?.unwrap_or_else(|| "homepage".into()),
            device: token(params, "device")?,
            category: match params.get("category") {
                Some(c) if c.trim().is_empty() || c.len() > 256 => {
                    return Err(bad("category", "must be 1 to 256 characters".into()));
                }
                c => c.cloned(),
            },
            request_id: given_id.unwrap_or_else(new_request_id),
            now_ms: now_ms(),
        },
        explicit_id,
        offset,
    })
}

/// The answer's items past `offset`, as the response.
fn out(answer: &Answer, request: &Parsed, variant: &str, started: Instant) -> RecommendationsOut {
    RecommendationsOut {
        request_id: answer.request_id.clone(),
        user_id: request.params.user_id.clone(),
        model_version: answer.model_version.clone(),
        variant: variant.to_string(),
        fallback: answer.fallback,
        degraded: answer.degraded,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
        items: answer
            .items
            .iter()
            .skip(request.offset)
            .map(|i| RecommendedItemOut {
                item_id: i.item_id.clone(),
                score: i.score,
                source: i.source.to_string(),
                reason: i.reason.clone(),
            })
            .collect(),
    }
}

/// A ranked, explained list of items for one user.
///
/// Personal when the model or the real-time features know the user, a cold-start blend
/// (popular, trending, the user's segment and declared interests) otherwise. A request not
/// ranked within `[serve.recommend] deadline_ms` gets the precomputed popular list
/// (`fallback: true`); without a trained model the answer is the last day's trending items
/// (`fallback: true`, `model_version: null`).
///
/// Pages: `offset` skips the first items of the list ranked to depth `num_results + offset`
/// (at most `max_num_results`, default 200), so `offset=20&num_results=20` is the second page
/// of 20. Exploration and diversity slots are allotted per list depth, so a later page is not
/// always the exact continuation of an earlier, shorter request.
#[utoipa::path(
    get,
    path = "/v1/recommendations",
    tag = "recommendations",
    operation_id = "get_recommendations",
    params(
        ("user_id" = String, Query, description = "Whose list (need not be known: unknown users get the cold-start blend). Same rules as every id."),
        ("num_results" = Option<u32>, Query, description = "Items wanted (default `[serve.recommend] default_num_results`, 20; at most `max_num_results`, 200).", minimum = 1),
        ("offset" = Option<u32>, Query, description = "Leading items of the ranked list to skip (default 0); `num_results + offset` is at most `max_num_results`.", minimum = 0),
        ("context" = Option<String>, Query, description = "Placement (default `homepage`); pinned items are per context.", pattern = "^[A-Za-z0-9_.:-]{1,128}$"),
        ("device" = Option<String>, Query, description = "Client device class.", pattern = "^[A-Za-z0-9_.:-]{1,128}$"),
        ("category" = Option<String>, Query, description = "Only items of this category (one the model knows).", min_length = 1, max_length = 256),
        ("request_id" = Option<String>, Query, description = "Reuse an id (replays exploration; bypasses the answer cache); a new one is made otherwise.", pattern = "^[A-Za-z0-9_.:-]{1,128}$"),
    ),
    responses(
        (status = 200, description = "The list, best first.", body = RecommendationsOut),
        (status = 400, description = "A bad or unknown parameter (`invalid_field` naming it).", body = ErrorBody),
        (status = 500, description = "The computation failed.", body = ErrorBody),
        (status = 503, description = "No model is loaded and the feature store (Redis) is unreachable.", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    QueryParams(query): QueryParams,
) -> Result<Json<RecommendationsOut>, ApiError> {
    let started = Instant::now();
    let request = parse(&state, &query)?;
    let (params, explicit_id) = (&request.params, request.explicit_id);
    let variant = state.config.recommend.variant.clone();
    let Some(served) = state.online.models.get() else {
        let answer = without_model(&state, params).await?;
        metrics::counter!("recd_recommendations_total", "outcome" => "no_model").increment(1);
        return Ok(Json(out(&answer, &request, &variant, started)));
    };
    if let Err(recommend::UnknownCategory(c)) = recommend::category_of(&served, params) {
        return Err(bad(
            "category",
            format!("unknown category {c:?} (not in the model's catalog)"),
        ));
    }
    let uid = UserId::parse(params.user_id.clone()).map_err(|e| ApiError::field(None, e))?;
    let features = match state.features.user(&uid, params.now_ms).await {
        Ok(f) => f,
        Err(e) => {
            // Degrade to what the model knows rather than failing the request.
            tracing::warn!(error = %e, "feature store read failed; recommending without real-time features");
            None
        }
    };
    let key = CacheKey {
        user_id: params.user_id.clone(),
        context: (
            params.context.clone(),
            params.device.clone(),
            params.category.clone(),
        ),
        n: params.n,
        model_version: served.version().to_string(),
        user_offset: features.as_ref().map_or(0, |f| f.last_offset),
    };
    let online = state.online.clone();
    if !explicit_id && let Some(answer) = online.cache.get(&key) {
        metrics::counter!("recd_recommendations_total", "outcome" => "cached").increment(1);
        return Ok(Json(out(&answer, &request, &variant, started)));
    }
    let deadline = Duration::from_millis(state.config.recommend.deadline_ms);
    let config = state.config.recommend.clone();
    let store = state.store.clone();
    let (task_served, task_params) = (served.clone(), params.clone());
    let known = Known {
        features,
        profile: None,
    };
    let exclude_features = known.features.clone();
    let compute = online.clone();
    let task = compute.compute.run(move || {
        // Shed a job that waited more than half the deadline in the queue; its request gets
        // the fallback now. Shedding only past the whole deadline let an overload settle
        // where every job ran just before its deadline and finished after it (work wasted,
        // the backlog kept): on the 1M x 100k benchmark a transient slowdown under load
        // turned into seconds of answers at the deadline. With half a deadline of queue at
        // most, a job that runs still answers in time.
        let waited = started.elapsed();
        if waited > deadline / 2 {
            return None;
        }
        // Behind by more than `degrade_after_ms`: rank with the light ranker, which costs a
        // fraction of the MLP, over fewer candidates (no content generator: a large share of
        // the candidate stage), so the queue drains instead of growing into fallbacks.
        let light = waited >= Duration::from_millis(config.degrade_after_ms);
        let catalog = online.models.catalog(&task_served);
        let uid = task_params.user_id.clone();
        let profile = move || store.catalog().get_user(&uid).ok().flatten();
        let answer = Arc::new(recommend::recommend(
            &task_served,
            catalog.as_deref(),
            &task_params,
            &known,
            &profile,
            &config,
            light,
        ));
        // A degraded answer is not cached: it would be served for the whole TTL, also after
        // the server has caught up, while recomputing it costs only the light ranking.
        if !answer.degraded {
            online.cache.put(key, answer.clone());
        }
        Some(answer)
    });
    let remaining = deadline.saturating_sub(started.elapsed());
    let outcome = tokio::time::timeout(remaining, task).await;
    // An answer that arrives after the deadline is as late as none: `timeout` polls the task
    // before its timer, so a finished task would otherwise win even past the deadline.
    let late = started.elapsed() > deadline;
    let answer = match outcome {
        Ok(Some(Some(answer))) if !late => {
            let outcome = if answer.degraded {
                "ranked_light"
            } else {
                "ranked"
            };
            metrics::counter!("recd_recommendations_total", "outcome" => outcome).increment(1);
            answer
        }
        Ok(None) => {
            return Err(ApiError::Internal("recommendation task failed".into()));
        }
        Ok(Some(_)) | Err(_) => {
            metrics::counter!("recd_recommendations_total", "outcome" => "deadline").increment(1);
            let st = recommend::state::user_state(
                &served.model,
                &params.user_id,
                exclude_features.as_ref(),
                served.manifest.data_window_ms.1,
            );
            let catalog = state.online.models.catalog(&served);
            Arc::new(recommend::fallback(
                &served,
                catalog.as_deref(),
                params,
                &st.exclude,
            ))
        }
    };
    Ok(Json(out(&answer, &request, &variant, started)))
}

/// No model yet: the feature store's most engaged items of the last 24 hours.
async fn without_model(state: &AppState, params: &Params) -> Result<Answer, ApiError> {
    let query = TrendingQuery {
        window: Window::Day,
        category: params.category.clone(),
        now_ms: params.now_ms,
        limit: params.n,
    };
    let items = state.features.trending(&query).await?;
    let best = items.first().map_or(1, |t| t.count.max(1)) as f32;
    Ok(Answer {
        request_id: params.request_id.clone(),
        model_version: None,
        fallback: true,
        degraded: false,
        items: items
            .into_iter()
            .map(|t| AnswerItem {
                item_id: t.item_id.to_string(),
                score: t.count as f32 / best,
                source: "trending",
                reason: match &params.category {
                    Some(c) => format!("trending in {c}"),
                    None => "trending".into(),
                },
            })
            .collect(),
    })
}
