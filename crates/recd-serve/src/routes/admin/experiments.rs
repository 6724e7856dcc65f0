//! `/v1/admin/experiments`: experiments as data (`PUT` a definition, `GET` one or all) and
//! `GET /v1/admin/experiments/{name}/report`, the experiment's online metrics and statistics
//! from the attribution consumer's tally (`recd-attribution`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use recd_api::{
    ComparisonOut, ErrorBody, ExperimentIn, ExperimentOut, ExperimentReportOut, ExperimentsOut,
    GuardrailStopOut, VariantReportOut,
};
use recd_attribution::{Design, Report};
use recd_model::artifact::registry;
use recd_online::experiments::admin::{AdminError, ExperimentAdmin, Source};
use recd_online::experiments::guard::Watch;
use recd_online::experiments::{ExperimentSpec, check_models};

use crate::routes::{IdPath, blocking, body_bytes};
use crate::{ApiError, AppState, body};

fn admin(state: &AppState) -> Result<Arc<ExperimentAdmin>, ApiError> {
    state
        .experiments
        .clone()
        .ok_or_else(|| ApiError::Unavailable("this server does not manage experiments".into()))
}

fn out(name: &str, spec: &ExperimentSpec, source: Source) -> Result<ExperimentOut, ApiError> {
    let definition = serde_json::to_value(spec)
        .and_then(serde_json::from_value::<ExperimentIn>)
        .map_err(|e| ApiError::Internal(format!("experiment {name}: {e}")))?;
    Ok(ExperimentOut {
        name: name.to_string(),
        source: match source {
            Source::Config => "config",
            Source::Api => "api",
        }
        .into(),
        definition,
    })
}

/// Creates or replaces an experiment; it takes effect for the next request.
///
/// The whole set of experiments is checked first (shares sum to 100, names, `recommend`
/// overrides parse as `[serve.recommend]` keys, running experiments of a layer take
/// disjoint bucket ranges): a refused definition changes nothing. Assignments of other
/// experiments never change; ramping this one's shares keeps users whose bucket stays in
/// their variant's range. Stored in the data dir (`experiments.json`), it wins over a config
/// file experiment of the same name.
#[utoipa::path(
    put,
    path = "/v1/admin/experiments/{name}",
    tag = "admin",
    operation_id = "put_experiment",
    params(("name" = String, Path, description = "The experiment's name: letters, digits, `_`, `-`, `.`.")),
    request_body = ExperimentIn,
    responses(
        (status = 200, description = "Stored and in effect.", body = ExperimentOut),
        (status = 400, description = "Not JSON, or a field breaks a rule (named in `field`; a variant's `model` must be the registry's CURRENT or CANDIDATE).", body = ErrorBody),
        (status = 413, description = "The body is over `[serve] max_body_bytes`.", body = ErrorBody),
        (status = 500, description = "The definition could not be stored (`internal`).", body = ErrorBody),
    )
)]
pub(crate) async fn put(
    State(state): State<Arc<AppState>>,
    IdPath(name): IdPath,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<ExperimentOut>, ApiError> {
    let bytes = body_bytes(bytes, state.config.max_body_bytes)?;
    let input: ExperimentIn = body::object(&bytes)?;
    let value = serde_json::to_value(&input).map_err(|e| ApiError::Internal(e.to_string()))?;
    let spec: ExperimentSpec =
        serde_path_to_error::deserialize(value).map_err(|e| ApiError::InvalidField {
            index: None,
            field: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    let admin = admin(&state)?;
    let (task_name, task_spec) = (name.clone(), spec.clone());
    let models_dir = state.models_dir.clone();
    let compiled = blocking(move || {
        if task_spec.variants.iter().any(|v| v.model.is_some()) {
            let reg =
                registry::state(&models_dir).map_err(|e| ApiError::Internal(e.to_string()))?;
            let served: Vec<&str> = [reg.current.as_deref(), reg.candidate.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            check_models(&task_spec, &served).map_err(AdminError::Invalid)?;
        }
        Ok(admin.put(&task_name, task_spec)?)
    })
    .await?;
    state.online.set_experiments(compiled);
    Ok(Json(out(&name, &spec, Source::Api)?))
}

/// One experiment's definition and where it comes from.
#[utoipa::path(
    get,
    path = "/v1/admin/experiments/{name}",
    tag = "admin",
    operation_id = "get_experiment",
    params(("name" = String, Path, description = "The experiment's name.")),
    responses(
        (status = 200, description = "The experiment.", body = ExperimentOut),
        (status = 404, description = "No experiment of that name (`not_found`).", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    IdPath(name): IdPath,
) -> Result<Json<ExperimentOut>, ApiError> {
    let list = admin(&state)?.list();
    let (spec, source) = list.get(&name).ok_or_else(|| ApiError::NotFound {
        what: "experiment",
        id: name.clone(),
    })?;
    Ok(Json(out(&name, spec, *source)?))
}

/// Every experiment (config file and API), by name.
#[utoipa::path(
    get,
    path = "/v1/admin/experiments",
    tag = "admin",
    operation_id = "list_experiments",
    responses((status = 200, description = "The experiments.", body = ExperimentsOut))
)]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
) -> Result<Json<ExperimentsOut>, ApiError> {
    let experiments = admin(&state)?
        .list()
        .iter()
        .map(|(name, (spec, source))| out(name, spec, *source))
        .collect::<Result<_, _>>()?;
    Ok(Json(ExperimentsOut { experiments }))
}

/// An experiment's report: per variant users, lists and items shown, clicks, CTR, add-to-cart,
/// conversions, dwell, diversity, cold-start, fallback and degraded shares and latency; each
/// treatment against control per user (delta method for CTR and conversion rate, Welch for
/// dwell) with a 95% confidence interval and p-value; and the sample-ratio check.
///
/// The numbers cover the impressions and events since `[serve.impressions]
/// report_horizon_days`; after a start they are rebuilt from the logs (`complete: false`
/// meanwhile).
#[utoipa::path(
    get,
    path = "/v1/admin/experiments/{name}/report",
    tag = "admin",
    operation_id = "get_experiment_report",
    params(("name" = String, Path, description = "The experiment's name.")),
    responses(
        (status = 200, description = "The report.", body = ExperimentReportOut),
        (status = 404, description = "No experiment of that name (`not_found`).", body = ErrorBody),
        (status = 503, description = "Impressions are not recorded (`[serve.impressions] enabled = false`), so there is nothing to report (`unavailable`).", body = ErrorBody),
    )
)]
pub(crate) async fn report(
    State(state): State<Arc<AppState>>,
    IdPath(name): IdPath,
) -> Result<Json<ExperimentReportOut>, ApiError> {
    let experiments = state.online.experiments();
    let spec = experiments.spec(&name).ok_or_else(|| ApiError::NotFound {
        what: "experiment",
        id: name.clone(),
    })?;
    let attribution = state.attribution.clone().ok_or_else(|| {
        ApiError::Unavailable(
            "impressions are not recorded ([serve.impressions] enabled = false)".into(),
        )
    })?;
    let design = design(&name, spec);
    let status = serde_json::to_value(spec.status)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let fleet = state.fleet_tallies.clone();
    let (report, complete) = crate::routes::blocking(move || {
        // In a fleet: the other API processes' published tallies too, so the report covers
        // the fleet's traffic, not this process's share. Without them (Redis down) it says so
        // in the log and covers this process's share.
        let others = match &fleet {
            Some(fleet) => fleet.others(crate::routes::now_ms()).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the fleet's experiment tallies are unreadable; this report covers this process's share");
                Arc::default()
            }),
            None => Arc::default(),
        };
        let report = recd_attribution::fleet_report(&design, &attribution.tally(), &others);
        Ok::<_, ApiError>((report, attribution.caught_up()))
    })
    .await?;
    let watch = state.experiment_watch.get(&name).unwrap_or_default();
    Ok(Json(render(report, status, complete, &watch)))
}

/// What the report needs of a definition: its variants and shares, and the control (the
/// variant named `control`, else the first).
pub(crate) fn design(name: &str, spec: &ExperimentSpec) -> Design {
    Design {
        name: name.to_string(),
        variants: spec
            .variants
            .iter()
            .map(|v| (v.name.clone(), v.share))
            .collect(),
        control: spec
            .variants
            .iter()
            .find(|v| v.name == "control")
            .or(spec.variants.first())
            .map(|v| v.name.clone())
            .unwrap_or_default(),
    }
}

fn render(report: Report, status: String, complete: bool, watch: &Watch) -> ExperimentReportOut {
    ExperimentReportOut {
        experiment: report.experiment,
        status,
        control: report.control,
        complete,
        variants: report
            .variants
            .into_iter()
            .map(|v| VariantReportOut {
                name: v.name,
                share: v.share,
                users: v.users,
                answers: v.answers,
                impressions: v.impressions,
                clicks: v.clicks,
                ctr: v.ctr,
                add_to_cart: v.add_to_cart,
                conversions: v.conversions,
                conversion_rate: v.conversion_rate,
                mean_dwell_ms: v.mean_dwell_ms,
                categories_per_list: v.categories_per_list,
                cold_share: v.cold_share,
                fallback_share: v.fallback_share,
                degraded_share: v.degraded_share,
                latency_p50_ms: v.latency_p50_ms,
                latency_p99_ms: v.latency_p99_ms,
            })
            .collect(),
        comparisons: report
            .comparisons
            .into_iter()
            .map(|c| {
                let (numbers, note) = match c.result {
                    Ok(n) => (Some(n), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                let f = |g: fn(&recd_stats::Comparison) -> f64| {
                    numbers.as_ref().map(g).filter(|x| x.is_finite())
                };
                ComparisonOut {
                    sequential_p_value: watch.p_value(&c.variant, c.metric),
                    variant: c.variant,
                    metric: c.metric.to_string(),
                    method: c.method.to_string(),
                    control: f(|n| n.control),
                    treatment: f(|n| n.treatment),
                    diff: f(|n| n.diff),
                    ci_low: f(|n| n.ci_low),
                    ci_high: f(|n| n.ci_high),
                    p_value: f(|n| n.p_value),
                    note,
                }
            })
            .collect(),
        srm_p_value: report.srm_p_value.filter(|p| p.is_finite()),
        stopped_by_guardrail: watch.stopped.as_ref().map(|s| GuardrailStopOut {
            at_ms: s.at_ms,
            variant: s.variant.clone(),
            reason: s.reason.clone(),
        }),
    }
}
