//! `GET /v1/recommendations` (and the alias `GET /recommendations`): the query validated
//! here, the answer made by the engine ([`recd_online::Online::recommend`], in serving mode:
//! deadline, fallback, light ranker when behind, answer cache), the page of it rendered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use recd_api::{ErrorBody, RecommendationsOut, RecommendedItemOut};
use recd_online::{Answer, Mode, Request};
use recd_types::UserId;

use super::{QueryParams, now_ms};
use crate::{ApiError, AppState};

const PARAMS: [&str; 8] = [
    "user_id",
    "session_id",
    "num_results",
    "offset",
    "context",
    "device",
    "category",
    "request_id",
];

/// The user id of an anonymous visitor's unit: this prefix and its session id.
const ANONYMOUS_PREFIX: &str = "session:";

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

/// A validated request: what to compute, and which part of it to answer.
struct Parsed {
    /// `n` is `num_results + offset`: the list is ranked to that depth.
    request: Request,
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
    let config = state.online.config();
    let session = token(params, "session_id")?;
    let user_id = match (params.get("user_id"), session) {
        (Some(user_id), _) => {
            UserId::parse(user_id.clone()).map_err(|e| ApiError::field(None, e))?
        }
        // A visitor without a user id is the unit `session:<id>`: assigned to experiments,
        // recorded and reported under it (and given the features of events posted under it).
        (None, Some(session)) => UserId::parse(format!("{ANONYMOUS_PREFIX}{session}"))
            .map_err(|e| ApiError::field(None, e))?,
        (None, None) => {
            return Err(bad(
                "user_id",
                "is required (or session_id, for a visitor without one)".into(),
            ));
        }
    };
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
    let now = now_ms();
    Ok(Parsed {
        request: Request {
            user_id,
            n: n + offset,
            context: token(params, "context")?.unwrap_or_else(|| "homepage".into()),
            device: token(params, "device")?,
            category: match params.get("category") {
                Some(c) if c.trim().is_empty() || c.len() > 256 => {
                    return Err(bad("category", "must be 1 to 256 characters".into()));
                }
                c => c.cloned(),
            },
            request_id: token(params, "request_id")?,
            now_ms: now,
            at_ms: Some(now),
            mode: Mode::Serving,
            offset,
        },
        offset,
    })
}

/// The answer's items past `offset`, as the response.
pub(super) fn out(
    answer: &Answer,
    request: &Request,
    offset: usize,
    variant: &str,
    started: Instant,
) -> RecommendationsOut {
    RecommendationsOut {
        request_id: answer.request_id.clone(),
        user_id: request.user_id.to_string(),
        model_version: answer.model_version.clone(),
        variant: answer
            .variant
            .clone()
            .unwrap_or_else(|| variant.to_string()),
        experiments: answer.experiments.clone(),
        fallback: answer.fallback,
        degraded: answer.degraded,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
        items: answer
            .items
            .iter()
            .skip(offset)
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
        ("user_id" = Option<String>, Query, description = "Whose list (need not be known: unknown users get the cold-start blend). Same rules as every id. Required unless `session_id` is given."),
        ("session_id" = Option<String>, Query, description = "For a visitor without a user id: the list is for the unit `session:<session_id>`, which experiments assign by (sticky for the session), impressions record and reports count; events posted with `user_id = session:<session_id>` become its real-time features. Ignored when `user_id` is given.", pattern = "^[A-Za-z0-9_.:-]{1,128}$"),
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
    let parsed = parse(&state, &query)?;
    let answer = state.online.recommend(parsed.request.clone()).await?;
    let variant = &state.online.config().variant;
    Ok(Json(out(
        &answer,
        &parsed.request,
        parsed.offset,
        variant,
        started,
    )))
}
