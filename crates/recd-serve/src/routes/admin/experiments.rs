//! `GET /v1/admin/experiments/{name}/report`: the experiment's online metrics and statistics,
//! from the attribution consumer's tally (`recd-attribution`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use recd_api::{ComparisonOut, ErrorBody, ExperimentReportOut, VariantReportOut};
use recd_attribution::{Design, Report};

use crate::routes::IdPath;
use crate::{ApiError, AppState};

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
    let design = Design {
        name: name.clone(),
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
    };
    let status = serde_json::to_value(spec.status)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let (report, complete) = crate::routes::blocking(move || {
        let report = recd_attribution::report(&design, &attribution.tally());
        Ok::<_, ApiError>((report, attribution.caught_up()))
    })
    .await?;
    Ok(Json(render(report, status, complete)))
}

fn render(report: Report, status: String, complete: bool) -> ExperimentReportOut {
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
    }
}
