//! `GET /v1/admin/models`: the model registry (current, candidate, rollback history, every
//! version with its creation time and NDCG), the versions this server holds in memory, and
//! the gradual rollout's steps.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use recd_api::{
    ErrorBody, ModelRole, ModelVersionOut, ModelsOut, RolloutActiveOut, RolloutOut, RolloutStepOut,
};
use recd_model::artifact::registry::{self, RegistryState};
use recd_model::artifact::{GateRecord, Manifest};

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
        (status = 200, description = "The registry: `current`, `candidate`, the rollback history, every version with its creation time and pipeline NDCG@10, the versions resident in this server's memory, and the gradual rollout (the one in progress and every step: started, ramped, promoted, rolled back).", body = ModelsOut),
        (status = 500, description = "The registry could not be read (`internal`).", body = ErrorBody),
    )
)]
pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Result<Json<ModelsOut>, ApiError> {
    let models_dir = state.models_dir.clone();
    let (registry_state, manifests, gates) = blocking(move || {
        let read = || {
            let manifests = registry::list(&models_dir)?;
            let gates = manifests
                .iter()
                .map(|m| GateRecord::read(&registry::version_dir(&models_dir, &m.version)))
                .collect::<Vec<_>>();
            Ok((registry::state(&models_dir)?, manifests, gates))
        };
        read().map_err(|e: recd_model::ModelError| ApiError::Internal(e.to_string()))
    })
    .await?;
    let resident = state.online.models.resident();
    let mut out = render(
        registry_state,
        &manifests,
        &gates,
        resident,
        state.config.max_resident_models,
    );
    out.rollout = rollout(&state);
    Ok(Json(out))
}

fn rollout(state: &AppState) -> Option<RolloutOut> {
    let rollouts = &state.rollout;
    if !rollouts.running() {
        return None;
    }
    let history = rollouts.history();
    let action = |a: recd_online::rollout::Action| {
        serde_json::to_value(a)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    };
    Some(RolloutOut {
        active: history.active.map(|a| RolloutActiveOut {
            experiment: recd_online::rollout::experiment_name(&a.candidate, rollouts.share(&a)),
            share: rollouts.share(&a),
            candidate: a.candidate,
            current: a.current,
            p_value: a.test.p_value,
        }),
        steps: history
            .steps
            .into_iter()
            .map(|s| RolloutStepOut {
                at_ms: s.at_ms,
                action: action(s.action),
                candidate: s.candidate,
                current: s.current,
                share: s.share,
                reason: s.reason,
                current_impressions: s.current_impressions,
                candidate_impressions: s.candidate_impressions,
                current_ctr: s.current_ctr.filter(|x| x.is_finite()),
                candidate_ctr: s.candidate_ctr.filter(|x| x.is_finite()),
                p_value: s.p_value,
            })
            .collect(),
    })
}

fn render(
    registry_state: RegistryState,
    manifests: &[Manifest],
    gates: &[Option<GateRecord>],
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
        .zip(gates)
        .map(|(m, gate)| ModelVersionOut {
            version: m.version.clone(),
            created_ms: m.created_ms,
            ndcg_at_10: m.pipeline_ndcg(),
            role: role(&m.version),
            resident: resident.contains(&m.version),
            gate_passed: gate.as_ref().map(|g| g.passed),
            gate_decision: gate.as_ref().map(|g| g.decision.clone()),
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
        rollout: None,
    }
}
