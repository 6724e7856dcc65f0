//! The evaluation report: a text table for the terminal, JSON for machines, and a small HTML
//! page (inline SVG, no scripts, no network) for people: dates, the gate's decision, bar
//! charts of the metrics and NDCG@10 across versions.

use std::path::Path;

use recd_model::artifact::{GateRecord, registry};

use crate::evaluate::Metrics;
use crate::train::utc_text;

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

/// What the page says about the version besides its metrics.
pub struct Page<'a> {
    /// The version.
    pub version: &'a str,
    /// When training finished, ms.
    pub created_ms: i64,
    /// First and last event time used, ms.
    pub data_window_ms: (i64, i64),
    /// Users, items and interactions trained on.
    pub counts: (usize, usize, usize),
    /// The gate's decision on it.
    pub gate: &'a GateRecord,
    /// The versions published before it, oldest first.
    pub history: Vec<Point>,
}

/// One earlier version on the history chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The version.
    pub version: String,
    /// When it was trained, ms.
    pub created_ms: i64,
    /// Its pipeline NDCG@10 on its own hold-out, if evaluated.
    pub ndcg: Option<f64>,
    /// Whether the gate let it be placed (`None`: published before the gate was recorded).
    pub passed: Option<bool>,
}

/// The versions in the registry, oldest first, for the history chart. An unreadable registry
/// gives an empty history: the report is still written.
pub fn history(models_dir: &Path) -> Vec<Point> {
    let mut points: Vec<Point> = registry::list(models_dir)
        .unwrap_or_default()
        .into_iter()
        .map(|m| Point {
            ndcg: m.pipeline_ndcg(),
            passed: GateRecord::read(&registry::version_dir(models_dir, &m.version))
                .map(|g| g.passed),
            created_ms: m.created_ms,
            version: m.version,
        })
        .collect();
    points.sort_by_key(|p| p.created_ms);
    points
}

/// A self-contained HTML report: the version's dates and data, the gate's decision, its
/// metrics as a table and bar charts, and NDCG@10 across the versions so far.
pub fn html(page: &Page<'_>, rows: &[(String, Metrics)]) -> String {
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
    let (users, items, interactions) = page.counts;
    let this = Point {
        version: page.version.to_string(),
        created_ms: page.created_ms,
        ndcg: rows
            .iter()
            .find(|(n, _)| n == "pipeline")
            .map(|(_, m)| m.ndcg),
        passed: Some(page.gate.passed),
    };
    let mut points: Vec<Point> = page
        .history
        .iter()
        .filter(|p| p.version != page.version)
        .cloned()
        .collect();
    points.push(this);
    let verdict = if page.gate.passed {
        "passed"
    } else {
        "rejected"
    };
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>recd model {v}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f4f4f4;padding:1em}}\
         .passed{{color:#067647}}.rejected{{color:#b42318}}</style></head>\
         <body><h1>recd model {v}</h1>\
         <p>Trained {created}, on events from {from} to {to}: {users} users, {items} items, \
         {interactions} interactions.</p>\
         <h2>Publish gate: <span class=\"{verdict}\">{verdict}</span></h2><p>{decision} ({method})</p>\
         <h2>Hold-out evaluation</h2><pre>{table}</pre>{charts}\
         <h2>NDCG@10 across versions</h2>{history}</body></html>",
        v = escape(page.version),
        created = utc_text(page.created_ms),
        from = utc_text(page.data_window_ms.0),
        to = utc_text(page.data_window_ms.1),
        decision = escape(&page.gate.decision),
        method = escape(&page.gate.method),
        history = history_svg(&points),
    )
}

/// NDCG@10 per version in training order: a line through the evaluated versions, each point
/// coloured by the gate's decision, the newest labelled.
fn history_svg(points: &[Point]) -> String {
    let scored: Vec<(usize, &Point, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(k, p)| p.ndcg.map(|n| (k, p, n)))
        .collect();
    if scored.is_empty() {
        return "<p>No evaluated version yet.</p>".into();
    }
    let (w, h, pad) = (520.0, 160.0, 30.0);
    let max = scored.iter().map(|s| s.2).fold(1e-9, f64::max) * 1.1;
    let step = if points.len() > 1 {
        (w - 2.0 * pad) / (points.len() - 1) as f64
    } else {
        0.0
    };
    let at = |k: usize, v: f64| (pad + k as f64 * step, h - pad - v / max * (h - 2.0 * pad));
    let line: Vec<String> = scored
        .iter()
        .map(|&(k, _, v)| {
            let (x, y) = at(k, v);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let mut svg = format!(
        r##"<svg width="{w}" height="{h}" role="img" aria-label="NDCG@10 across versions"><line x1="{pad}" y1="{base}" x2="{right}" y2="{base}" stroke="#ccc"/><text x="0" y="12">{max:.3}</text><text x="0" y="{base}">0</text><polyline points="{pts}" fill="none" stroke="#2a6fdb"/>"##,
        base = h - pad,
        right = w - pad,
        pts = line.join(" "),
    );
    for &(k, p, v) in &scored {
        let (x, y) = at(k, v);
        let fill = match p.passed {
            Some(false) => "#b42318",
            Some(true) => "#067647",
            None => "#888",
        };
        svg.push_str(&format!(
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{fill}"><title>{} ({}): NDCG@10 {v:.4}</title></circle>"#,
            escape(&p.version),
            utc_text(p.created_ms)
        ));
    }
    if let Some(&(k, p, v)) = scored.last() {
        let (x, y) = at(k, v);
        svg.push_str(&format!(
            r#"<text x="{tx:.1}" y="{ty:.1}" text-anchor="end">{} {v:.4}</text>"#,
            escape(&p.version),
            tx = x,
            ty = (y - 8.0).max(12.0)
        ));
    }
    svg.push_str("</svg>");
    format!("<div>{svg}</div><p>Green: passed the gate; red: rejected; grey: not recorded.</p>")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_dates_the_gate_and_one_point_per_evaluated_version() {
        let gate = GateRecord {
            passed: false,
            method: "rescored".into(),
            decision: "NDCG@10 0.1000 < 0.1200 <current>".into(),
        };
        let old = |version: &str, ms: i64, ndcg: Option<f64>| Point {
            version: version.into(),
            created_ms: ms,
            ndcg,
            passed: Some(true),
        };
        let page = Page {
            version: "v20261118-110640-123",
            created_ms: 1_795_000_000_123,
            data_window_ms: (1_794_000_000_000, 1_794_900_000_000),
            counts: (10, 20, 30),
            gate: &gate,
            history: vec![
                old("v1", 1_790_000_000_000, Some(0.12)),
                old("v2", 1_791_000_000_000, None),
            ],
        };
        let metrics = Metrics {
            ndcg: 0.1,
            ..Metrics::default()
        };
        let html = html(&page, &[("pipeline".into(), metrics)]);
        assert!(html.contains("Trained 2026-11-18 11:06:40 UTC"), "{html}");
        assert!(
            html.contains("from 2026-11-06 21:20:00 UTC"),
            "the window start as a date: {html}"
        );
        assert!(!html.contains("1794000000000"), "no epoch numbers: {html}");
        assert!(html.contains(r#"<span class="rejected">rejected</span>"#));
        assert!(html.contains("0.1200 &lt;current&gt;"), "escaped: {html}");
        // v1 and this version were evaluated, v2 was not.
        assert_eq!(html.matches("<circle").count(), 2, "{html}");
        assert!(
            html.contains("#b42318\"><title>v20261118"),
            "this version in red"
        );
    }

    #[test]
    fn a_first_version_gets_a_single_point() {
        let points = [Point {
            version: "v".into(),
            created_ms: 0,
            ndcg: Some(0.2),
            passed: None,
        }];
        let svg = history_svg(&points);
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(!svg.contains("NaN"), "{svg}");
        assert_eq!(history_svg(&[]), "<p>No evaluated version yet.</p>");
    }
}
