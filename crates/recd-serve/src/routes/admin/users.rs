//! `GET /v1/admin/users/{id}`: one user as an operator looks them up (the dashboard's user
//! panel): profile, real-time features, experiments, and the list they would get now.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use recd_api::{ErrorBody, UserLookupOut};
use recd_online::{Mode, Request};
use recd_types::UserId;

use crate::routes::{
    IdPath, QueryParams, features, int_param, now_ms, only_known, recommendations, users,
};
use crate::{ApiError, AppState};

/// Items in the looked-up list unless `num_results` says otherwise.
const DEFAULT_ITEMS: usize = 10;

/// One user, looked up: their profile, real-time features, experiments, and the list they
/// would get now with each item's score, source and reason.
///
/// The list is computed in full (no deadline, no answer cache, exploration seeded by a fresh
/// request id) and is not recorded as an impression: looking a user up does not count as
/// showing them anything, so experiments and CTR are untouched.
#[utoipa::path(
    get,
    path = "/v1/admin/users/{id}",
    tag = "admin",
    operation_id = "look_up_user",
    params(
        ("id" = String, Path, description = crate::routes::openapi::ID_DOC),
        ("num_results" = Option<u32>, Query, description = "Items in the list (default 10; at most `[serve.recommend] max_num_results`).", minimum = 1),
    ),
    responses(
        (status = 200, description = "The user as the server sees them now (profile and features are null when there are none).", body = UserLookupOut),
        (status = 400, description = "A bad id or `num_results`, or an unknown parameter (`invalid_field` naming it).", body = ErrorBody),
        (status = 500, description = "The catalog, the feature store or the computation failed.", body = ErrorBody),
        (status = 503, description = "The feature store (Redis) is unreachable.", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    IdPath(id): IdPath,
    QueryParams(query): QueryParams,
) -> Result<Json<UserLookupOut>, ApiError> {
    let started = Instant::now();
    let user = UserId::parse(id.clone()).map_err(|e| ApiError::field(None, e))?;
    let n = num_results(&state, &query)?;
    let profile = users::profile(&state, id.clone()).await?;
    let features = features::user_features(&state, &user).await?;
    let known_to_model = state
        .online
        .models
        .get()
        .is_some_and(|s| s.model.users.get(&id).is_some());
    let now = now_ms();
    let request = Request {
        user_id: user,
        n,
        context: "homepage".into(),
        device: None,
        category: None,
        request_id: None,
        now_ms: now,
        at_ms: Some(now),
        mode: Mode::Deterministic,
        offset: 0,
    };
    let answer = state.online.recommend(request.clone()).await?;
    let variant = &state.online.config().variant;
    Ok(Json(UserLookupOut {
        user_id: id,
        profile,
        features,
        known_to_model,
        recommendations: recommendations::out(&answer, &request, 0, variant, started),
    }))
}

fn num_results(
    state: &AppState,
    query: &std::collections::HashMap<String, String>,
) -> Result<usize, ApiError> {
    only_known(query, &["num_results"])?;
    let max = state.online.config().max_num_results;
    let n = int_param(query, "num_results", 1..=max as u64)?;
    Ok(n.map_or(DEFAULT_ITEMS.min(max), |n| n as usize))
}
