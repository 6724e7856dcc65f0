//! `/metrics` as an operator reads it: help text on every family, the served model's age,
//! process figures, and a bounded label set.

use crate::util::{Server, small_data};

#[test]
fn every_metric_has_help_and_the_model_and_process_are_there() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    small_data(&data, true);
    let server = Server::start(&data, &[]);
    // Traffic through every kind of route, and made-up methods.
    server.get("/v1/recommendations?user_id=u1&num_results=5");
    server.get("/v1/recommendations?user_id=u1&num_results=5");
    server.request(
        "POST",
        "/v1/events",
        r#"{"user_id":"u1","item_id":"i1","type":"view"}"#,
    );
    for method in ["FOO", "BAR", "BAZ"] {
        server.request(method, "/v1/trending", "");
    }
    let text = server.get_text("/metrics");

    let helped: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# HELP "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let typed: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(typed.len() > 10, "{text}");
    for name in &typed {
        assert!(helped.contains(name), "no HELP for {name}");
    }
    for family in [
        "recd_http_requests_total",
        "recd_recommendations_total",
        "recd_events_accepted_total",
        "recd_build_info",
        "recd_model_info",
        "recd_model_age_seconds",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "recd_log_size_bytes",
        "recd_log_start_offset",
    ] {
        assert!(typed.contains(&family), "{family} missing:\n{text}");
    }
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no sample of {name}"))
    };
    let age = value("recd_model_age_seconds");
    assert!((0.0..600.0).contains(&age), "model age {age}");
    assert!(value("process_resident_memory_bytes") > 1e6);
    assert!(value("process_open_fds") >= 3.0);
    assert!(value("recd_log_size_bytes{log=\"events\"}") > 0.0, "{text}");
    // Made-up methods share one label value.
    assert!(text.contains("method=\"other\""), "{text}");
    for method in ["FOO", "BAR", "BAZ"] {
        assert!(!text.contains(&format!("method=\"{method}\"")), "{text}");
    }
    server.stop();
}

/// Metric names (`recd_*`, `process_*`) used in `text`, without histogram suffixes.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let bytes = text.as_bytes();
    for prefix in ["recd_", "process_"] {
        for (start, _) in text.match_indices(prefix) {
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            let end = text[start..]
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .map_or(text.len(), |n| start + n);
            let name = &text[start..end];
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            names.insert(base.to_string());
        }
    }
    names
}

/// Every `.rs` file under `dir`, concatenated.
fn sources(dir: &std::path::Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn the_dashboard_and_alerts_use_only_metrics_that_recd_records() {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let mut code = String::new();
    for krate in std::fs::read_dir(root.join("crates")).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            sources(&src, &mut code);
        }
    }
    for file in ["deploy/grafana/recd.json", "deploy/prometheus/alerts.yml"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let names = metric_names(&text);
        assert!(names.len() >= 5, "{file}: {names:?}");
        for name in names {
            assert!(
                code.contains(&format!("\"{name}\"")),
                "{file} uses {name}, which no crate records"
            );
        }
    }
}
