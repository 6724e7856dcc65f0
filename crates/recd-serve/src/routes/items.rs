//! The catalog's items: `GET /v1/items` (a page), and `GET`, `PUT`, `DELETE /v1/items/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use recd_api::{ErrorBody, ItemIn, ItemOut, ItemsPage};
use recd_types::ItemId;

use super::{
    IdPath, QueryParams, blocking, body_bytes, int_param, now_ms, only_known, share_catalog,
};
use crate::{ApiError, AppState, body, convert};

/// Items per page when `limit` is absent, and the most one page holds.
const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

/// One page of the catalog, in ascending id order.
///
/// The order is the catalog's key order (bytes of the UTF-8 ids), so it is stable while the
/// catalog does not change. Reading a page walks past the `offset` items before it: deep
/// pages of a large catalog cost time proportional to the offset.
#[utoipa::path(
    get,
    path = "/v1/items",
    tag = "catalog",
    operation_id = "list_items",
    params(
        ("offset" = Option<i64>, Query, description = "Items to skip (default 0).", minimum = 0),
        ("limit" = Option<u64>, Query, description = "Items in the page (default 100).", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "The page; `next_offset` asks for the next one.", body = ItemsPage),
        (status = 400, description = "A bad or unknown parameter (`invalid_field` naming it).", body = ErrorBody),
        (status = 500, description = "The catalog could not be read.", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    QueryParams(params): QueryParams,
) -> Result<Json<ItemsPage>, ApiError> {
    only_known(&params, &["offset", "limit"])?;
    // Bounded to int64, the document's integer format, which the page echoes back.
    let offset = int_param(&params, "offset", 0..=i64::MAX as u64)?.unwrap_or(0);
    let limit = int_param(&params, "limit", 1..=MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let store = state.store.clone();
    let (items, total) = blocking(move || {
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        Ok(store.catalog().items_page(skip, limit as usize)?)
    })
    .await?;
    let end = offset.saturating_add(items.len() as u64);
    Ok(Json(ItemsPage {
        items: items.into_iter().map(convert::item_out).collect(),
        offset,
        total,
        next_offset: (end < total).then_some(end),
    }))
}

/// One catalog item.
#[utoipa::path(
    get,
    path = "/v1/items/{id}",
    tag = "catalog",
    operation_id = "get_item",
    params(("id" = String, Path, description = super::openapi::ID_DOC)),
    responses(
        (status = 200, description = "The item as last written.", body = ItemOut),
        (status = 400, description = "The id breaks the id rules (`invalid_field`, `item_id`).", body = ErrorBody),
        (status = 404, description = "No item has this id (`not_found`).", body = ErrorBody),
        (status = 500, description = "The catalog could not be read.", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    IdPath(id): IdPath,
) -> Result<Json<ItemOut>, ApiError> {
    ItemId::parse(id.clone()).map_err(|e| ApiError::field(None, e))?;
    let store = state.store.clone();
    let item = blocking(move || {
        store
            .catalog()
            .get_item(&id)?
            .ok_or(ApiError::NotFound { what: "item", id })
    })
    .await?;
    Ok(Json(convert::item_out(item)))
}

/// Creates or replaces an item (catalog first, then the log).
///
/// The whole item is replaced: absent fields take their defaults.
#[utoipa::path(
    put,
    path = "/v1/items/{id}",
    tag = "catalog",
    operation_id = "put_item",
    params(("id" = String, Path, description = super::openapi::ID_DOC)),
    request_body = ItemIn,
    responses(
        (status = 200, description = "Stored; the item as it now is.", body = ItemOut),
        (status = 400, description = "Not JSON, or a field breaks a rule (named in `field`).", body = ErrorBody),
        (status = 408, description = "The body did not arrive within `[serve] body_timeout_ms` (`body_timeout`).", body = ErrorBody),
        (status = 413, description = "The body is over `[serve] max_body_bytes`.", body = ErrorBody),
        (status = 500, description = "The catalog or the log could not be written.", body = ErrorBody),
    )
)]
pub(crate) async fn put(
    State(state): State<Arc<AppState>>,
    IdPath(id): IdPath,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ItemOut>, ApiError> {
    let bytes = body_bytes(body, state.config.max_body_bytes)?;
    let item = convert::item(&id, body::object::<ItemIn>(&bytes)?)?;
    item.validate().map_err(|e| ApiError::field(None, e))?;
    Ok(Json(convert::item_out(write(&state, item).await?)))
}

/// Writes `item`: to the bus's catalog channel first in a scaled deployment, then to this
/// process's catalog and log. Returns it as written.
async fn write(
    state: &Arc<AppState>,
    item: recd_types::Item,
) -> Result<recd_types::Item, ApiError> {
    let at_ms = now_ms();
    share_catalog(
        state,
        vec![recd_types::Record::Item {
            at_ms,
            item: item.clone(),
        }],
    )
    .await?;
    let store = state.store.clone();
    let item = blocking(move || {
        store.upsert_items(vec![item.clone()], at_ms)?;
        Ok(item)
    })
    .await?;
    state.appended.send_replace(state.store.log().end_offset());
    Ok(item)
}

/// Marks an item unavailable.
///
/// Items are never erased: history and models still name them.
#[utoipa::path(
    delete,
    path = "/v1/items/{id}",
    tag = "catalog",
    operation_id = "delete_item",
    params(("id" = String, Path, description = super::openapi::ID_DOC)),
    responses(
        (status = 200, description = "The item, now `available: false`.", body = ItemOut),
        (status = 400, description = "The id breaks the id rules (`invalid_field`, `item_id`).", body = ErrorBody),
        (status = 404, description = "No item has this id (`not_found`).", body = ErrorBody),
        (status = 500, description = "The catalog or the log could not be written.", body = ErrorBody),
    )
)]
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    IdPath(id): IdPath,
) -> Result<Json<ItemOut>, ApiError> {
    ItemId::parse(id.clone()).map_err(|e| ApiError::field(None, e))?;
    let store = state.store.clone();
    let mut item = blocking(move || {
        store
            .catalog()
            .get_item(&id)?
            .ok_or(ApiError::NotFound { what: "item", id })
    })
    .await?;
    item.available = false;
    Ok(Json(convert::item_out(write(&state, item).await?)))
}
