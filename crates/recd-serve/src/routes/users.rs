//! `PUT /v1/users/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use recd_api::{UserIn, UserOut};

use super::{blocking, body_bytes, now_ms};
use crate::{ApiError, AppState, body, convert};

/// Creates or replaces a user profile (demographics, declared interests).
pub(crate) async fn put(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UserOut>, ApiError> {
    let bytes = body_bytes(body, state.config.max_body_bytes)?;
    let user = convert::user(&id, body::object::<UserIn>(&bytes)?)?;
    let out = convert::user_out(user.clone());
    let store = state.store.clone();
    blocking(move || Ok(store.upsert_users(vec![user], now_ms())?)).await?;
    state.appended.send_replace(state.store.log().end_offset());
    Ok(Json(out))
}
