//! The evaluation report: a text table for the terminal, JSON for machines, and a small HTML
//! page with bar charts (inline SVG, no scripts, no network) for people.

use crate::evaluate::Metrics;

/// The metrics table as aligned text.
pub fn table(rows: &[(String, Metrics)]) -> String {
    let mut out = format!(
        "{:<17} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9}\n",
        "model", "users", "P@10", "R@10", "NDCG@10", "MAP@10", "AUC", "coverage"
    );
    for (name, m) in rows {
        out.push_str(&format!(
            "{:<17} {:>6} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>7.4} {:>9.4}\n",
            name, m.users, m.precision, m.recall, m.ndcg, m.map, m.auc, m.coverage
        ));
    }
    out
}

/// The metrics as a JSON object keyed by model name.
pub fn json(rows: &[(String, Metrics)]) -> serde_json::Value {
    serde_json::Value::Object(
        rows.iter()
            .map(|(n, m)| (n.clone(), serde_json::to_value(m).unwrap_or_default()))
            .collect(),
    )
}

/// A self-contained HTML report.
pub fn html(version: &str, rows: &[(String, Metrics)], notes: &str) -> String {
    let mut charts = String::new();
    type Column = (&'static str, fn(&Metrics) -> f64);
    let metrics: [Column; 4] = [
        ("NDCG@10", |m| m.ndcg),
        ("Recall@10", |m| m.recall),
        ("Precision@10", |m| m.precision),
        ("AUC", |m| m.auc),
    ];
    for (title, get) in metrics {
        let max = rows.iter().map(|(_, m)| get(m)).fold(1e-9, f64::max);
        let bar_h = 22;
        let height = rows.len() * bar_h + 30;
        let mut svg = format!(
            r#"<svg width="520" height="{height}" role="img" aria-label="{title}"><text x="0" y="14" font-weight="bold">{title}</text>"#
        );
        for (k, (name, m)) in rows.iter().enumerate() {
            let y = 24 + k * bar_h;
            let w = (get(m) / max * 300.0).max(0.0);
            let fill = if name == "pipeline" {
                "#2a6fdb"
            } else {
                "#9bb7e0"
            };
            svg.push_str(&format!(
                r#"<text x="0" y="{ty}">{name}</text><rect x="110" y="{y}" width="{w:.1}" height="16" fill="{fill}"/><text x="{tx:.1}" y="{ty}">{v:.4}</text>"#,
                ty = y + 13,
                tx = 115.0 + w,
                v = get(m)
            ));
        }
        svg.push_str("</svg>");
        charts.push_str(&format!("<div>{svg}</div>"));
    }
    let table = escape(&table(rows));
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>recd model {v}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f4f4f4;padding:1em}}</style></head>\
         <body><h1>recd model {v}</h1><p>{n}</p><pre>{table}</pre>{charts}</body></html>",
        v = escape(version),
        n = escape(notes),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
