//! The experiment report: per variant the online metrics, per treatment its comparison with
//! control, and the sample-ratio check.
//!
//! Users are the unit of randomisation, so ratio metrics (CTR = clicks / impressions,
//! conversion rate = conversions / impressions) are compared with the delta method over
//! per-user sums, and per-user means (dwell) with Welch's t-test: never as if impressions were
//! independent draws.

use recd_stats::{Comparison, StatsError};

use crate::tally::{Tally, UserTally, VariantTally};

/// What the report needs to know about the experiment's definition.
#[derive(Debug, Clone)]
pub struct Design {
    /// The experiment's name.
    pub name: String,
    /// Its variants, in order, with their configured shares (percent).
    pub variants: Vec<(String, f64)>,
    /// The variant the others are compared with.
    pub control: String,
}

/// One variant's metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantReport {
    /// The variant's name.
    pub name: String,
    /// Its configured share, percent.
    pub share: f64,
    /// Users shown at least one list.
    pub users: u64,
    /// Lists shown.
    pub answers: u64,
    /// Items shown.
    pub impressions: u64,
    /// Shown items clicked, the first click per showing and item.
    pub clicks: u64,
    /// `clicks / impressions`.
    pub ctr: Option<f64>,
    /// Shown items added to the cart.
    pub add_to_cart: u64,
    /// Shown items bought.
    pub conversions: u64,
    /// `conversions / impressions`.
    pub conversion_rate: Option<f64>,
    /// Mean dwell of attributed clicks that reported one, in ms.
    pub mean_dwell_ms: Option<f64>,
    /// Mean distinct categories per list.
    pub categories_per_list: Option<f64>,
    /// Share of lists for users with nothing personal to go on.
    pub cold_share: Option<f64>,
    /// Share of lists that were the fallback.
    pub fallback_share: Option<f64>,
    /// Share of lists ranked by the light ranker.
    pub degraded_share: Option<f64>,
    /// Median answer latency (bucket bound), ms.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile answer latency (bucket bound), ms.
    pub latency_p99_ms: Option<f64>,
}

/// A treatment's difference to control on one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricComparison {
    /// The treatment variant.
    pub variant: String,
    /// `ctr`, `conversion_rate` or `dwell_ms`.
    pub metric: &'static str,
    /// How it was tested: `delta_method` or `welch`.
    pub method: &'static str,
    /// The test's numbers, or why there are none yet.
    pub result: Result<Comparison, StatsError>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The experiment.
    pub experiment: String,
    /// The control variant.
    pub control: String,
    /// Per variant, in the design's order.
    pub variants: Vec<VariantReport>,
    /// Each treatment against control.
    pub comparisons: Vec<MetricComparison>,
    /// Sample-ratio mismatch: the chi-square p-value of users per variant against the shares
    /// (`None` before any user).
    pub srm_p_value: Option<f64>,
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

fn variant_report(name: &str, share: f64, tally: Option<&VariantTally>) -> VariantReport {
    let empty = VariantTally::default();
    let t = tally.unwrap_or(&empty);
    let sum = |f: fn(&UserTally) -> u64| t.users.values().map(f).sum::<u64>();
    let impressions = sum(|u| u64::from(u.impressions));
    let clicks = sum(|u| u64::from(u.clicks));
    let conversions = sum(|u| u64::from(u.conversions));
    let dwell = sum(|u| u.dwell_ms);
    let dwell_n = sum(|u| u64::from(u.dwell_n));
    let a = &t.answers;
    VariantReport {
        name: name.to_string(),
        share,
        users: t.users.values().filter(|u| u.answers > 0).count() as u64,
        answers: a.answers,
        impressions,
        clicks,
        ctr: ratio(clicks, impressions),
        add_to_cart: sum(|u| u64::from(u.add_to_cart)),
        conversions,
        conversion_rate: ratio(conversions, impressions),
        mean_dwell_ms: ratio(dwell, dwell_n),
        categories_per_list: ratio(a.categories, a.answers),
        cold_share: ratio(a.cold, a.answers),
        fallback_share: ratio(a.fallback, a.answers),
        degraded_share: ratio(a.degraded, a.answers),
        latency_p50_ms: a.latency_quantile_ms(0.5),
        latency_p99_ms: a.latency_quantile_ms(0.99),
    }
}

/// Per-user `(num, den)` pairs of the users shown something.
fn pairs(t: Option<&VariantTally>, f: fn(&UserTally) -> (f64, f64)) -> Vec<(f64, f64)> {
    t.map(|t| {
        t.users
            .values()
            .filter(|u| u.impressions > 0)
            .map(f)
            .collect()
    })
    .unwrap_or_default()
}

fn dwell_means(t: Option<&VariantTally>) -> Vec<f64> {
    t.map(|t| {
        t.users
            .values()
            .filter(|u| u.dwell_n > 0)
            .map(|u| u.dwell_ms as f64 / f64::from(u.dwell_n))
            .collect()
    })
    .unwrap_or_default()
}

/// The report of `design` from what `tally` holds.
pub fn report(design: &Design, tally: &Tally) -> Report {
    report_with(design, |label| tally.variant(label))
}

/// The report of `design` from the tallies `variant` gives by label (`"<experiment>/<variant>"`).
pub(crate) fn report_with<'a>(
    design: &Design,
    variant: impl Fn(&str) -> Option<&'a VariantTally>,
) -> Report {
    let label = |v: &str| format!("{}/{v}", design.name);
    let variants: Vec<VariantReport> = design
        .variants
        .iter()
        .map(|(v, share)| variant_report(v, *share, variant(&label(v))))
        .collect();
    let control = variant(&label(&design.control));
    let mut comparisons = Vec::new();
    for (v, _) in &design.variants {
        if *v == design.control {
            continue;
        }
        let treatment = variant(&label(v));
        let ctr = |u: &UserTally| (f64::from(u.clicks), f64::from(u.impressions));
        let conv = |u: &UserTally| (f64::from(u.conversions), f64::from(u.impressions));
        comparisons.push(MetricComparison {
            variant: v.clone(),
            metric: "ctr",
            method: "delta_method",
            result: recd_stats::ratio_delta(&pairs(control, ctr), &pairs(treatment, ctr)),
        });
        comparisons.push(MetricComparison {
            variant: v.clone(),
            metric: "conversion_rate",
            method: "delta_method",
            result: recd_stats::ratio_delta(&pairs(control, conv), &pairs(treatment, conv)),
        });
        comparisons.push(MetricComparison {
            variant: v.clone(),
            metric: "dwell_ms",
            method: "welch",
            result: recd_stats::welch(&dwell_means(control), &dwell_means(treatment)),
        });
    }
    let counts: Vec<u64> = variants.iter().map(|v| v.users).collect();
    let shares: Vec<f64> = variants.iter().map(|v| v.share).collect();
    let srm_p_value = recd_stats::srm_p_value(&counts, &shares).ok();
    Report {
        experiment: design.name.clone(),
        control: design.control.clone(),
        variants,
        comparisons,
        srm_p_value,
    }
}
