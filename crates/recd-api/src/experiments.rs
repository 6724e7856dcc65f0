//! `GET /v1/admin/experiments/{name}/report`: an experiment's online metrics per variant, each
//! treatment compared with control, and the sample-ratio check.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The report of one experiment, from the impressions and events of the attribution horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExperimentReportOut {
    /// The experiment.
    pub experiment: String,
    /// Its status: `draft`, `running` or `stopped`.
    pub status: String,
    /// The variant the others are compared with (`control` if one is named so, else the
    /// first).
    pub control: String,
    /// False while the server is still reading the logs after a start: the numbers are partial.
    pub complete: bool,
    /// Per variant, in the experiment's order.
    pub variants: Vec<VariantReportOut>,
    /// Each treatment against control, per metric.
    pub comparisons: Vec<ComparisonOut>,
    /// Sample-ratio mismatch: chi-square p-value of the users per variant against the
    /// configured shares (below 0.001 the assignment, or what was recorded of it, is broken);
    /// absent before any user.
    pub srm_p_value: Option<f64>,
    /// Set when the guardrails stopped the experiment: which variant breached what, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_by_guardrail: Option<GuardrailStopOut>,
}

/// Why the guardrails stopped an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GuardrailStopOut {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// The variant that breached.
    pub variant: String,
    /// What it breached (latency p99, fallback share, or a CTR worse by the sequential test).
    pub reason: String,
}

/// One variant's online metrics. Rates are absent while their denominator is 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VariantReportOut {
    /// The variant.
    pub name: String,
    /// Its configured share of the experiment's users, percent.
    pub share: f64,
    /// Users shown at least one list.
    pub users: u64,
    /// Lists shown (answers recorded as impressions).
    pub answers: u64,
    /// Items shown.
    pub impressions: u64,
    /// Shown items clicked (the first click per showing and item; views do not count).
    pub clicks: u64,
    /// `clicks / impressions`.
    pub ctr: Option<f64>,
    /// Shown items added to the cart.
    pub add_to_cart: u64,
    /// Shown items bought.
    pub conversions: u64,
    /// `conversions / impressions`.
    pub conversion_rate: Option<f64>,
    /// Mean dwell time of attributed clicks that reported one, ms.
    pub mean_dwell_ms: Option<f64>,
    /// Mean number of distinct categories per list (diversity).
    pub categories_per_list: Option<f64>,
    /// Share of lists for users with nothing personal to go on (cold start).
    pub cold_share: Option<f64>,
    /// Share of lists that were the fallback list (deadline missed, or no model).
    pub fallback_share: Option<f64>,
    /// Share of lists ranked by the light ranker (compute threads behind).
    pub degraded_share: Option<f64>,
    /// Median answer latency (upper bound of its histogram bucket), ms.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile answer latency (upper bound of its histogram bucket), ms.
    pub latency_p99_ms: Option<f64>,
}

/// A treatment's difference to control on one metric, analysed per user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComparisonOut {
    /// The treatment variant.
    pub variant: String,
    /// `ctr`, `conversion_rate` or `dwell_ms`.
    pub metric: String,
    /// `delta_method` (ratio metrics over per-user sums) or `welch` (per-user means).
    pub method: String,
    /// Control's value (absent when the test could not run).
    pub control: Option<f64>,
    /// Treatment's value.
    pub treatment: Option<f64>,
    /// Treatment minus control.
    pub diff: Option<f64>,
    /// Lower bound of the 95% confidence interval of `diff`.
    pub ci_low: Option<f64>,
    /// Upper bound of the 95% confidence interval of `diff`.
    pub ci_high: Option<f64>,
    /// Two-sided p-value of "no difference" (fixed horizon: valid when looked at once).
    pub p_value: Option<f64>,
    /// The always-valid p-value of the same difference (mSPRT, updated every `[serve.guardrails]
    /// check_every_ms` while the experiment runs): valid however often the report is read.
    /// Absent before its first look (each arm needs 30 users) or where the watch is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequential_p_value: Option<f64>,
    /// Why there are no numbers yet (too few users, no variance, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `PUT /v1/admin/experiments/{name}`: an experiment's whole definition (it replaces the
/// previous one of that name). The same fields as `[experiments.<name>]` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentIn {
    /// Salt of the variant hash: a new salt reshuffles the experiment's users.
    pub salt: String,
    /// `draft` (nobody assigned; the default), `running` or `stopped` (nobody assigned; its
    /// report stays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Experiments of one layer exclude each other; different layers run at once (default
    /// `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// The range `[from, to)` of the layer's 10,000 buckets this experiment takes (default the
    /// whole layer); running experiments of one layer take disjoint ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_buckets: Option<[u32; 2]>,
    /// The variants, in bucket order; shares sum to 100. Ramping moves a share between
    /// neighbours; users stay in their variant where the ranges still cover their bucket.
    pub variants: Vec<VariantIn>,
}

/// One arm of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantIn {
    /// Name: letters, digits, `_`, `-`, `.` (the response's `variant` is
    /// `"<experiment>/<variant>"`).
    pub name: String,
    /// Percent of the experiment's users.
    pub share: f64,
    /// Answer with a built-in non-personal list instead of the pipeline: `popular` or
    /// `trending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// `[serve.recommend]` keys this variant changes (ranker, candidate quotas, diversity,
    /// exploration, business rules), checked like the config file's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub recommend: Option<serde_json::Map<String, serde_json::Value>>,
    /// The model version this variant is answered with (default `CURRENT`): the registry's
    /// `CURRENT` or `CANDIDATE`, which servers hold in memory while a variant names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// An experiment as the server runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExperimentOut {
    /// Its name.
    pub name: String,
    /// `config` (the config file) or `api` (stored by `PUT`, which wins over the file).
    pub source: String,
    /// The definition.
    pub definition: ExperimentIn,
}

/// `GET /v1/admin/experiments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExperimentsOut {
    /// Every experiment, by name.
    pub experiments: Vec<ExperimentOut>,
}
