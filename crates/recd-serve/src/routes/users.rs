//! User profiles: `GET`, `PUT` and `DELETE /v1/users/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use recd_api::{ErrorBody, UserIn, UserOut};
use recd_types::UserId;

use super::{IdPath, blocking, body_bytes, now_ms, share_catalog};
use crate::{ApiError, AppState, body, convert};

/// One user's profile.
///
/// Only profiles written with `PUT` (or imported) exist: a user known only from events has
/// none (404).
#[utoipa::path(
    get,
    path = "/v1/users/{id}",
    tag = "users",
    operation_id = "get_user",
    params(("id" = String, Path, description = super::openapi::ID_DOC)),
    responses(
        (status = 200, description = "The profile as last written.", body = UserOut),
        (status = 400, description = "The id breaks the id rules (`invalid_field`, `user_id`).", body = ErrorBody),
        (status = 404, description = "No profile has this id (`not_found`).", body = ErrorBody),
        (status = 500, description = "The catalog could not be read.", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    IdPath(id): IdPath,
) -> Result<Json<UserOut>, ApiError> {
    UserId::parse(id.clone()).map_err(|e| ApiError::field(None, e))?;
    let user = profile(&state, id.clone()).await?;
    Ok(Json(user.ok_or(ApiError::NotFound { what: "user", id })?))
}

/// The profile of `id`, if one was written.
pub(super) async fn profile(state: &AppState, id: String) -> Result<Option<UserOut>, ApiError> {
    let store = state.store.clone();
    let user = blocking(move || Ok(store.catalog().get_user(&id)?)).await?;
    Ok(user.map(convert::user_out))
}

/// Creates or replaces a user profile (demographics, declared interests).
///
/// The whole profile is replaced: absent fields take their defaults.
#[utoipa::path(
    put,
    path = "/v1/users/{id}",
    tag = "users",
    operation_id = "put_user",
    params(("id" = String, Path, description = super::openapi::ID_DOC)),
    request_body = UserIn,
    responses(
        (status = 200, description = "Stored; the profile as it now is.", body = UserOut),
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
) -> Result<Json<UserOut>, ApiError> {
    let bytes = body_bytes(body, state.config.max_body_bytes)?;
    let user = convert::user(&id, body::object::<UserIn>(&bytes)?)?;
    let out = convert::user_out(user.clone());
    user.validate().map_err(|e| ApiError::field(None, e))?;
    let at_ms = now_ms();
    share_catalog(
        &state,
        vec![recd_types::Record::User {
            at_ms,
            user: user.clone(),
        }],
    )
    .await?;
    let store = state.store.clone();
    blocking(move || Ok(store.upsert_users(vec![user], at_ms)?)).await?;
    state.appended.send_replace(state.store.log().end_offset());
    Ok(Json(out))
}

/// Deletes a user's data: profile, online features, and their events for training and
/// exports from now on (admin scope; loopback only while no API keys are configured).
///
/// A tombstone is appended to the event log first (durable before the answer), then the
/// profile is removed from the catalog and the features from the feature store; the feature
/// updater applies the same tombstone, so a replay of the log agrees. Training and `recd
/// export` leave out every event of the user logged before the tombstone; events of the same
/// id after it are a new user's. The served model keeps what it learnt until the next
/// training. Deleting a deleted user again is allowed (another tombstone).
#[utoipa::path(
    delete,
    path = "/v1/users/{id}",
    tag = "users",
    operation_id = "delete_user",
    params(("id" = String, Path, description = super::openapi::ID_DOC)),
    responses(
        (status = 204, description = "Deleted: the tombstone is durable in the log, the profile and features are gone."),
        (status = 400, description = "The id breaks the id rules (`invalid_field`, `user_id`).", body = ErrorBody),
        (status = 404, description = "No event or profile ever named this id (`not_found`); in a scaled deployment, neither the catalog nor the feature store knows it.", body = ErrorBody),
        (status = 500, description = "The catalog could not be written.", body = ErrorBody),
        (status = 503, description = "The tombstone could not be made durable (`not_durable`): nothing was deleted; retry after `Retry-After` seconds.", body = ErrorBody),
    )
)]
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    let user = UserId::parse(id.clone()).map_err(|e| ApiError::field(None, e))?;
    if state.bus.is_some() {
        return delete_on_bus(&state, user, id).await;
    }
    let store = state.store.clone();
    let target = user.clone();
    let tombstone = blocking(move || {
        store
            .delete_user(target, now_ms())
            .map_err(|e| ApiError::from(recd_store::AppendError::Store(e)))?
            .ok_or(ApiError::NotFound { what: "user", id })
    })
    .await?;
    // The tombstone is the durable truth and the updater applies it too: removing the
    // features here only makes the deletion visible at once, so a failure is not the caller's
    // problem. Once the updater is past the tombstone it has deleted them itself, and a
    // delete now could remove the state of events logged after the tombstone.
    let applied = *state.features_applied.borrow();
    if applied.is_none_or(|o| o <= tombstone)
        && let Err(e) = state.features.delete_user(&user).await
    {
        tracing::warn!(error = %e, "user features not removed now; the updater will when it applies the tombstone");
    }
    state.appended.send_replace(state.store.log().end_offset());
    metrics::counter!("recd_users_deleted_total").increment(1);
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/users/{id}` in a scaled deployment: the tombstone goes to the user's partition
/// (the updater that owns it deletes their features, in order with their events) and to the
/// catalog channel (every process removes the profile); both durable before the answer. The
/// features are removed here too, so the deletion shows at once. A user that neither this
/// process's catalog nor the feature store knows is 404.
async fn delete_on_bus(
    state: &Arc<AppState>,
    user: UserId,
    id: String,
) -> Result<StatusCode, ApiError> {
    let store = state.store.clone();
    let name = id.clone();
    let profiled = blocking(move || Ok(store.catalog().get_user(&name)?.is_some())).await?;
    let known = profiled || state.features.user(&user, now_ms()).await?.is_some();
    if !known {
        return Err(ApiError::NotFound { what: "user", id });
    }
    let tombstone = vec![recd_types::Record::UserDeleted {
        at_ms: now_ms(),
        user: user.clone(),
    }];
    if let Some(bus) = &state.bus {
        super::durable(bus.as_ref(), bus.append(&tombstone)).await?;
    }
    share_catalog(state, tombstone).await?;
    let store = state.store.clone();
    blocking(move || Ok(store.catalog().delete_user(&id)?)).await?;
    if let Err(e) = state.features.delete_user(&user).await {
        tracing::warn!(error = %e, "user features not removed now; the updater will when it applies the tombstone");
    }
    metrics::counter!("recd_users_deleted_total").increment(1);
    Ok(StatusCode::NO_CONTENT)
}
