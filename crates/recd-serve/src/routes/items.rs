//! `PUT /v1/items/{id}` and `DELETE /v1/items/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use recd_api::{ItemIn, ItemOut};

use super::{blocking, body_bytes, now_ms};
use crate::{ApiError, AppState, body, convert};

/// Creates or replaces an item (catalog first, then the log).
pub(crate) async fn put(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ItemOut>, ApiError> {
    let bytes = body_bytes(body, state.config.max_body_bytes)?;
    let item = convert::item(&id, body::object::<ItemIn>(&bytes)?)?;
    let out = convert::item_out(item.clone());
    let store = state.store.clone();
    blocking(move || Ok(store.upsert_items(vec![item], now_ms())?)).await?;
    state.appended.send_replace(state.store.log().end_offset());
    Ok(Json(out))
}

/// Marks an item unavailable. Items are never erased: history and models still name them.
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ItemOut>, ApiError> {
    let store = state.store.clone();
    let item = blocking(move || {
        let mut item = store
            .catalog()
            .get_item(&id)?
            .ok_or(ApiError::NotFound { what: "item", id })?;
        item.available = false;
        store.upsert_items(vec![item.clone()], now_ms())?;
        Ok(item)
    })
    .await?;
    state.appended.send_replace(state.store.log().end_offset());
    Ok(Json(convert::item_out(item)))
}
