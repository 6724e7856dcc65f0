//! `GET /v1/admin/models`: the model registry (current, candidate, rollback history, every
//! version with its creation time and NDCG) and the versions this server holds in memory.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use recd_api::{ErrorBody, ModelRole, ModelVersionOut, ModelsOut};
use recd_model::artifact::Manifest;
use recd_model::artifact::registry::{self, RegistryState};

use crate::routes::blocking;
use crate::{ApiError, AppState};

/// The registry of the server's data dir, read from disk on each request (an operator's
/// route: the state may have been changed by `recd train` or `recd models` a moment ago).
#[utoipa::path(
    get,
    path = "/v1/admin/models",
    tag = "admin",
    operation_id = "list_models",
    responses(
        (status = 200, description = "The registry: `current`, `candidate`, the rollback history, every version with its creation time and pipeline NDCG@10, and the versions resident in this server's memory.", body = ModelsOut),
        (status = 500, description = "The registry could not be read (`internal`).", body = ErrorBody),
    )
)]
pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Result<Json<ModelsOut>, ApiError> {
    let models_dir = state.models_dir.clone();
    let (registry_state, manifests) = blocking(move || {
        let read = || Ok((registry::state(&models_dir)?, registry::list(&models_dir)?));
        read().map_err(|e: recd_model::ModelError| ApiError::Internal(e.to_string()))
    })
    .await?;
    let resident = state.online.models.resident();
    Ok(Json(render(
        registry_state,
        &manifests,
        resident,
        state.config.max_resident_models,
    )))
}

fn render(
    registry_state: RegistryState,
    manifests: &[Manifest],
    resident: Vec<String>,
    max_resident_models: usize,
) -> ModelsOut {
    let role = |v: &str| {
        let is = |slot: Option<&str>| slot == Some(v);
        if is(registry_state.current.as_deref()) {
            Some(ModelRole::Current)
        } else if is(registry_state.candidate.as_deref()) {
            Some(ModelRole::Candidate)
        } else if is(registry_state.rollback_target()) {
            Some(ModelRole::Previous)
        } else {
            None
        }
    };
    let versions = manifests
        .iter()
        .map(|m| ModelVersionOut {
            version: m.version.clone(),
            created_ms: m.created_ms,
            ndcg_at_10: m.pipeline_ndcg(),
            role: role(&m.version),
            resident: resident.contains(&m.version),
        })
        .collect();
    ModelsOut {
        previous: registry_state.rollback_target().map(str::to_string),
        current: registry_state.current,
        candidate: registry_state.candidate,
        history: registry_state.previous,
        resident,
        max_resident_models: max_resident_models as u64,
        versions,
    }
}
