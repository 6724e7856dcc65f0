//! `GET /v1/items/{id}/similar?num_results=N`: "you may also like", answered by the engine
//! ([`recd_online::Online::similar`]: item-kNN, ALS embedding and content neighbours blended).

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use recd_api::{ErrorBody, SimilarItemOut, SimilarOut};
use recd_online::{Mode, SimilarRequest};

use super::{IdPath, QueryParams};
use crate::{ApiError, AppState};

const MAX_RESULTS: usize = 200;

/// Items like this one ("you may also like"), most similar first.
///
/// Blends co-interactions (item-kNN), embedding neighbours (ALS) and metadata (content); an
/// item added after training gets content neighbours only.
#[utoipa::path(
    get,
    path = "/v1/items/{id}/similar",
    tag = "recommendations",
    operation_id = "get_similar_items",
    params(
        ("id" = String, Path, description = super::openapi::ID_DOC),
        ("num_results" = Option<u32>, Query, description = "Items wanted (default 10).", minimum = 1, maximum = 200),
        ("user_id" = Option<String>, Query, description = "Who is looking, if known: the answer's impression is attributed to their experiment variants. Same rules as every id."),
    ),
    responses(
        (status = 200, description = "The neighbours.", body = SimilarOut),
        (status = 400, description = "A bad id or parameter (`invalid_field` naming it).", body = ErrorBody),
        (status = 404, description = "Neither the model nor the catalog knows the item.", body = ErrorBody),
        (status = 500, description = "The computation failed.", body = ErrorBody),
        (status = 503, description = "No model is loaded yet (`unavailable`).", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    IdPath(id): IdPath,
    QueryParams(params): QueryParams,
) -> Result<Json<SimilarOut>, ApiError> {
    let started = Instant::now();
    let bad = |field: &str, message: String| ApiError::InvalidField {
        index: None,
        field: field.to_string(),
        message,
    };
    if let Some(p) = params
        .keys()
        .find(|k| !["num_results", "user_id"].contains(&k.as_str()))
    {
        return Err(bad(
            p,
            format!("unknown parameter {p:?}; expected num_results or user_id"),
        ));
    }
    let user_id = params
        .get("user_id")
        .map(|u| recd_types::UserId::parse(u.clone()))
        .transpose()
        .map_err(|e| ApiError::field(None, e))?;
    let n = match params.get("num_results") {
        None => 10,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_RESULTS).contains(n))
            .ok_or_else(|| {
                bad(
                    "num_results",
                    format!("{v:?} is not a number from 1 to {MAX_RESULTS}"),
                )
            })?,
    };
    recd_types::ItemId::parse(id.clone()).map_err(|e| ApiError::field(None, e))?;
    let similar = state
        .online
        .similar(SimilarRequest {
            item_id: id,
            n,
            user_id,
            now_ms: super::now_ms(),
            mode: Mode::Serving,
        })
        .await?;
    Ok(Json(SimilarOut {
        item_id: similar.item_id,
        request_id: similar.request_id,
        model_version: similar.model_version,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
        items: similar
            .items
            .into_iter()
            .map(|i| SimilarItemOut {
                item_id: i.item_id,
                score: i.score,
                source: i.source.to_string(),
                reason: i.reason,
            })
            .collect(),
    }))
}
