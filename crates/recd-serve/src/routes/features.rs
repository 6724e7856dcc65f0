//! Feature read-outs: per user (debugging; admin scope later), per item, and trending.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use recd_api::{
    CategoryCountOut, ErrorBody, ItemFeaturesOut, TrendingItemOut, TrendingOut, UserFeaturesOut,
};
use recd_features::{TrendingQuery, Window};
use recd_types::{ItemId, UserId};

use super::{IdPath, QueryParams, now_ms};
use crate::{ApiError, AppState, convert};

/// What the feature store holds for a user (a debugging view).
#[utoipa::path(
    get,
    path = "/v1/users/{id}/features",
    tag = "features",
    operation_id = "get_user_features",
    params(("id" = String, Path, description = super::openapi::ID_DOC)),
    responses(
        (status = 200, description = "The user's real-time features.", body = UserFeaturesOut),
        (status = 400, description = "The id breaks the id rules (`invalid_field`, `user_id`).", body = ErrorBody),
        (status = 404, description = "No features for this user (none yet, or expired).", body = ErrorBody),
        (status = 500, description = "The feature store failed.", body = ErrorBody),
        (status = 503, description = "The feature store (Redis) is unreachable.", body = ErrorBody),
    )
)]
pub(crate) async fn user(
    State(state): State<Arc<AppState>>,
    IdPath(id): IdPath,
) -> Result<Json<UserFeaturesOut>, ApiError> {
    let user = UserId::parse(id.clone()).map_err(|e| ApiError::field(None, e))?;
    let features = user_features(&state, &user).await?;
    Ok(Json(features.ok_or(ApiError::NotFound {
        what: "user features",
        id,
    })?))
}

/// What the feature store holds for `user` now, as the wire shape.
pub(super) async fn user_features(
    state: &AppState,
    user: &UserId,
) -> Result<Option<UserFeaturesOut>, ApiError> {
    let Some(features) = state.features.user(user, now_ms()).await? else {
        return Ok(None);
    };
    // Negatives are read with the served model's weights, as the engine reads them.
    let weights = state
        .online
        .models
        .get()
        .map(|s| s.weights.clone())
        .unwrap_or_default();
    Ok(Some(convert::features_out(
        features,
        state.features.config(),
        &weights,
    )))
}

/// An item's trending counters.
#[utoipa::path(
    get,
    path = "/v1/items/{id}/features",
    tag = "features",
    operation_id = "get_item_features",
    params(("id" = String, Path, description = super::openapi::ID_DOC)),
    responses(
        (status = 200, description = "The item's engagement counters.", body = ItemFeaturesOut),
        (status = 400, description = "The id breaks the id rules (`invalid_field`, `item_id`).", body = ErrorBody),
        (status = 404, description = "No engagement counted for this item.", body = ErrorBody),
        (status = 500, description = "The feature store failed.", body = ErrorBody),
        (status = 503, description = "The feature store (Redis) is unreachable.", body = ErrorBody),
    )
)]
pub(crate) async fn item(
    State(state): State<Arc<AppState>>,
    IdPath(id): IdPath,
) -> Result<Json<ItemFeaturesOut>, ApiError> {
    let item = ItemId::parse(id.clone()).map_err(|e| ApiError::field(None, e))?;
    let stats = state.features.item(&item, now_ms()).await?;
    let stats = stats.ok_or(ApiError::NotFound {
        what: "item features",
        id,
    })?;
    Ok(Json(ItemFeaturesOut {
        item_id: stats.item_id.to_string(),
        category: stats.category,
        count_1h: stats.count_1h,
        count_24h: stats.count_24h,
    }))
}

/// The most engaged items and categories of the last hour or day.
#[utoipa::path(
    get,
    path = "/v1/trending",
    tag = "features",
    operation_id = "get_trending",
    params(
        ("window" = Option<String>, Query, description = "`1h` (default) or `24h`.", pattern = "^(1h|24h)$"),
        ("category" = Option<String>, Query, description = "Only items of this category (and no category list)."),
        ("limit" = Option<u32>, Query, description = "Entries per list (default `[serve] trending_limit`, 20).", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "Most engaged first.", body = TrendingOut),
        (status = 400, description = "A bad or unknown parameter (`invalid_field` naming it).", body = ErrorBody),
        (status = 500, description = "The feature store failed.", body = ErrorBody),
        (status = 503, description = "The feature store (Redis) is unreachable.", body = ErrorBody),
    )
)]
pub(crate) async fn trending(
    State(state): State<Arc<AppState>>,
    QueryParams(params): QueryParams,
) -> Result<Json<TrendingOut>, ApiError> {
    let bad = |field: &str, message: String| ApiError::InvalidField {
        index: None,
        field: field.to_string(),
        message,
    };
    let window = match params.get("window").map(String::as_str) {
        None => Window::Hour,
        Some(w) => {
            Window::parse(w).ok_or_else(|| bad("window", format!("{w:?} is not 1h or 24h")))?
        }
    };
    let limit = match params.get("limit") {
        None => state.config.trending_limit,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| bad("limit", format!("{l:?} is not a number from 1 to 1000")))?,
    };
    if let Some(p) = params
        .keys()
        .find(|k| !["window", "limit", "category"].contains(&k.as_str()))
    {
        return Err(bad(
            p,
            format!("unknown parameter {p:?}; expected window, category, limit"),
        ));
    }
    let category = params.get("category").cloned();
    let now = now_ms();
    let query = TrendingQuery {
        window,
        category: category.clone(),
        now_ms: now,
        limit,
    };
    let items = state.features.trending(&query).await?;
    let categories = match category {
        Some(_) => Vec::new(),
        None => state.features.categories(window, now, limit).await?,
    };
    Ok(Json(TrendingOut {
        window: window.as_str().to_string(),
        category,
        items: items
            .into_iter()
            .map(|t| TrendingItemOut {
                item_id: t.item_id.to_string(),
                count: t.count,
            })
            .collect(),
        categories: categories
            .into_iter()
            .map(|c| CategoryCountOut {
                category: c.category,
                count: c.count,
            })
            .collect(),
    }))
}
