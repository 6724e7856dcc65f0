//! `/metrics` as an operator reads it: help text on every family, the served model's age,
//! process figures, and a bounded label set.

use crate::util::{Server, arg, recd_ok};

#[test]
fn every_metric_has_help_and_the_model_and_process_are_there() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = arg(&data);
    recd_ok(&[
        "gen",
        "--users",
        "300",
        "--items",
        "200",
        "--events",
        "20000",
        "--seed",
        "1",
        "--data-dir",
        d,
    ]);
    recd_ok(&["train", "--data-dir", d]);
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
    // Made-up methods share one label value.
    assert!(text.contains("method=\"other\""), "{text}");
    for method in ["FOO", "BAR", "BAZ"] {
        assert!(!text.contains(&format!("method=\"{method}\"")), "{text}");
    }
    server.stop();
}
