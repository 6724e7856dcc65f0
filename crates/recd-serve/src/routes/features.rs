//! Feature read-outs: per user (debugging; admin scope later), per item, and trending.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use recd_api::{CategoryCountOut, ItemFeaturesOut, TrendingItemOut, TrendingOut, UserFeaturesOut};
use recd_features::{TrendingQuery, Window};
use recd_types::{ItemId, UserId};

use super::now_ms;
use crate::{ApiError, AppState, convert};

/// `GET /v1/users/{id}/features`: what the feature store holds for a user.
pub(crate) async fn user(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<UserFeaturesOut>, ApiError> {
    let user = UserId::parse(id.clone()).map_err(|e| ApiError::field(None, e))?;
    let found = state.features.user(&user, now_ms()).await?;
    let features = found.ok_or(ApiError::NotFound {
        what: "user features",
        id,
    })?;
    Ok(Json(convert::features_out(
        features,
        state.features.config(),
    )))
}

/// `GET /v1/items/{id}/features`: an item's trending counters.
pub(crate) async fn item(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
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

/// `GET /v1/trending?window=1h|24h&category=C&limit=N`.
pub(crate) async fn trending(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
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
