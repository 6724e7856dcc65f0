//! Prometheus gauges of the tally, labelled by experiment and variant.

use crate::tally::Tally;

/// Registers the metrics' help texts.
pub fn describe_metrics() {
    metrics::describe_gauge!(
        "recd_experiment_users",
        "Users shown at least one list, per experiment variant (since the attribution horizon)."
    );
    metrics::describe_gauge!(
        "recd_experiment_impressions",
        "Items shown, per experiment variant."
    );
    metrics::describe_gauge!(
        "recd_experiment_clicks",
        "Shown items clicked (first per showing), per experiment variant."
    );
    metrics::describe_gauge!(
        "recd_experiment_conversions",
        "Shown items bought (first per showing), per experiment variant."
    );
    metrics::describe_gauge!(
        "recd_experiment_ctr",
        "Clicks per item shown, per experiment variant."
    );
    metrics::describe_counter!(
        "recd_items_shown_total",
        "Items shown in answers made since the process started (a rebuild's replay is not counted)."
    );
    metrics::describe_counter!(
        "recd_items_clicked_total",
        "Clicks attributed to items shown in answers made since the process started (first per showing and item)."
    );
    metrics::describe_gauge!(
        "recd_attribution_kept_impressions",
        "Impressions kept in memory for attribution (the attribution window)."
    );
    metrics::describe_gauge!(
        "recd_attribution_joins",
        "Events joined to an impression, by how (request_id, window), and those citing an unknown request id."
    );
}

/// Sets the gauges from `tally`.
pub(crate) fn publish(tally: &Tally) {
    for (label, v) in tally.variants() {
        let (experiment, variant) = label.split_once('/').unwrap_or((label, ""));
        let labels = [
            ("experiment", experiment.to_string()),
            ("variant", variant.to_string()),
        ];
        let t = &v.totals;
        metrics::gauge!("recd_experiment_users", &labels).set(v.users.len() as f64);
        metrics::gauge!("recd_experiment_impressions", &labels).set(f64::from(t.impressions));
        metrics::gauge!("recd_experiment_clicks", &labels).set(f64::from(t.clicks));
        metrics::gauge!("recd_experiment_conversions", &labels).set(f64::from(t.conversions));
        if t.impressions > 0 {
            metrics::gauge!("recd_experiment_ctr", &labels)
                .set(f64::from(t.clicks) / f64::from(t.impressions));
        }
    }
    metrics::counter!("recd_items_shown_total").absolute(tally.live.shown);
    metrics::counter!("recd_items_clicked_total").absolute(tally.live.clicked);
    metrics::gauge!("recd_attribution_kept_impressions").set(tally.kept() as f64);
    let j = tally.joins;
    metrics::gauge!("recd_attribution_joins", "by" => "request_id").set(j.by_request_id as f64);
    metrics::gauge!("recd_attribution_joins", "by" => "window").set(j.by_window as f64);
    metrics::gauge!("recd_attribution_joins", "by" => "unknown_request")
        .set(j.unknown_request as f64);
}
