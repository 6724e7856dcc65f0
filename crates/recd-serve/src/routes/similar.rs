//! `GET /v1/items/{id}/similar?num_results=N`: "you may also like".
//!
//! Three kinds of evidence, blended: item-kNN neighbours (people who interacted with one
//! interacted with the other; strongest, so weighted most), nearest neighbours over the ALS
//! item embeddings (the same taste dimensions; finds neighbours kNN's top-k cut missed), and
//! content similarity (metadata; the only evidence for an item without interactions, and the
//! whole answer for an item added after training). Each item's source is the evidence that
//! contributed most to its score.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use recd_api::{ErrorBody, SimilarItemOut, SimilarOut};
use recd_model::Model;
use recd_model::content::dot;
use recd_model::pipeline::top_n;

use super::{IdPath, QueryParams};
use crate::catalog_view::CatalogView;
use crate::model_watch::Served;
use crate::{ApiError, AppState};

/// Blend weights of (item-kNN cosine, ALS embedding cosine, content cosine).
const W_KNN: f32 = 0.6;
const W_ALS: f32 = 0.25;
const W_CONTENT: f32 = 0.15;
/// Candidates taken from each kind of evidence before blending.
const PER_SOURCE: usize = 100;
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
    if let Some(p) = params.keys().find(|k| k.as_str() != "num_results") {
        return Err(bad(
            p,
            format!("unknown parameter {p:?}; expected num_results"),
        ));
    }
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
    let served =
        state.online.models.get().ok_or_else(|| {
            ApiError::Unavailable("no model is loaded yet; run `recd train`".into())
        })?;
    let catalog = state.online.models.catalog(&served);
    let task_served = served.clone();
    let items = state
        .online
        .compute
        .run(move || {
            similar(&task_served, catalog.as_deref(), &id, n)
                .ok_or(ApiError::NotFound { what: "item", id })
        })
        .await
        .ok_or_else(|| ApiError::Internal("similar-items task failed".into()))??;
    Ok(Json(SimilarOut {
        item_id: params_id(&items),
        model_version: served.version().to_string(),
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
        items: items.1,
    }))
}

fn params_id(items: &(String, Vec<SimilarItemOut>)) -> String {
    items.0.clone()
}

/// The blended neighbours of `id`, or `None` when neither the model nor the catalog view
/// knows it.
fn similar(
    served: &Served,
    catalog: Option<&CatalogView>,
    id: &str,
    n: usize,
) -> Option<(String, Vec<SimilarItemOut>)> {
    let model = &served.model;
    let available =
        |i: u32| catalog.map_or(model.meta.available[i as usize], |c| c.is_available(i));
    let title = |i: u32| {
        catalog
            .and_then(|c| c.titles.get(i as usize))
            .filter(|t| !t.is_empty())
            .cloned()
            .unwrap_or_else(|| model.items.name(i).to_string())
    };
    let Some(row) = model.items.get(id) else {
        // Added after training: content neighbours only.
        let new = catalog?.new_items.iter().find(|x| x.id == id)?;
        let scored = (0..model.n_items() as u32)
            .filter(|&i| available(i))
            .map(|i| (i, dot(&new.content, model.content_of(i))));
        let items = top_n(scored, n)
            .into_iter()
            .map(|(i, s)| out(model, i, s, "content", "similar content".into()))
            .collect();
        return Some((id.to_string(), items));
    };
    let mut acc: HashMap<u32, [f32; 3]> = HashMap::new();
    let (cols, sims) = model.neighbors.row(row as usize);
    for (&j, &s) in cols.iter().zip(sims).take(PER_SOURCE) {
        acc.entry(j).or_default()[0] = s;
    }
    for (j, s) in embedding_neighbours(model, row, PER_SOURCE) {
        acc.entry(j).or_default()[1] = s;
    }
    let c = model.content_of(row);
    let content = (0..model.n_items() as u32).map(|j| (j, dot(c, model.content_of(j))));
    for (j, s) in top_n(content, PER_SOURCE) {
        acc.entry(j).or_default()[2] = s;
    }
    let weights = [W_KNN, W_ALS, W_CONTENT];
    let scored = acc
        .iter()
        .filter(|(j, _)| **j != row && available(**j))
        .map(|(&j, e)| (j, e.iter().zip(weights).map(|(s, w)| s.max(0.0) * w).sum()));
    let name = title(row);
    let items = top_n(scored, n)
        .into_iter()
        .map(|(j, score)| {
            let e = acc[&j];
            let k = (0..3)
                .max_by(|&a, &b| (e[a] * weights[a]).total_cmp(&(e[b] * weights[b])))
                .unwrap_or(0);
            let (source, reason) = match k {
                0 => (
                    "item_knn",
                    format!("people who watched {name} also watched this"),
                ),
                1 => ("als", "liked by the same people".to_string()),
                _ => ("content", "similar content".to_string()),
            };
            out(model, j, score, source, reason)
        })
        .collect();
    Some((id.to_string(), items))
}

/// The `k` items nearest to `row` by cosine over the ALS item vectors.
fn embedding_neighbours(model: &Model, row: u32, k: usize) -> Vec<(u32, f32)> {
    let f = &model.item_factors;
    let q = f.row(row as usize);
    let qn = dot(q, q).sqrt().max(1e-12);
    let scored = (0..f.n_rows() as u32).map(|j| {
        let v = f.row(j as usize);
        (j, dot(q, v) / (qn * dot(v, v).sqrt().max(1e-12)))
    });
    top_n(scored, k)
}

fn out(model: &Model, i: u32, score: f32, source: &str, reason: String) -> SimilarItemOut {
    SimilarItemOut {
        item_id: model.items.name(i).to_string(),
        score,
        source: source.to_string(),
        reason,
    }
}
