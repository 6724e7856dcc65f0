//! Bounded memory: a flood of new user ids over HTTP keeps the embedded feature store and the
//! answer cache within their configured budgets, and the process's resident memory with them.

use serde_json::json;

use crate::util::{Server, small_data};

/// New users in the flood; each posts one view of a catalog item (so the fold-in gives them a
/// vector, as it would a real new user).
const N_USERS: usize = 100_000;
/// Events per POST (the server accepts up to 10,000).
const PER_POST: usize = 10_000;

/// The value of the one sample of `name` (a name with labels selects that series).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

fn metric(server: &Server, name: &str) -> f64 {
    let text = server.get_text("/metrics");
    sample(&text, name).unwrap_or_else(|| panic!("no sample of {name}:\n{text}"))
}

#[test]
fn a_flood_of_new_users_stays_within_the_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    small_data(&data, true);
    let server = Server::spawn(
        &[
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--no-train-schedule",
        ],
        &[
            ("RECD__FEATURES__MEMORY_BUDGET_MB", "2"),
            ("RECD__SERVE__RECOMMEND__CACHE_MEMORY_BUDGET_MB", "1"),
        ],
    );
    let rss_before = metric(&server, "process_resident_memory_bytes");

    let mut last_offset = 0u64;
    for first in (0..N_USERS).step_by(PER_POST) {
        let events: Vec<_> = (first..first + PER_POST)
            .map(|n| {
                json!({
                    "user_id": format!("flood-{n}"),
                    "item_id": format!("i{}", n % 200),
                    "type": "view",
                    "session_id": format!("s-{n}"),
                    "context": {"page": "home", "device": "mobile"},
                })
            })
            .collect();
        let (status, body) = server.request("POST", "/v1/events", &json!(events).to_string());
        assert_eq!(status, 202, "{body}");
        last_offset = body["first_offset"].as_u64().expect("first_offset") + PER_POST as u64;
    }
    server.wait_until(
        || metric(&server, "recd_stream_applied_offset") >= last_offset as f64,
        "applying the flood",
    );
    // Answers for many distinct users, more than a megabyte of them.
    for n in 0..600 {
        let (status, body) = server.get(&format!(
            "/v1/recommendations?user_id=flood-{n}&num_results=20"
        ));
        assert_eq!(status, 200, "{body}");
    }

    let text = server.get_text("/metrics");
    let value = |name: &str| sample(&text, name).unwrap_or_else(|| panic!("no {name}:\n{text}"));
    // Without a budget the flood keeps every user's features, and resident memory grows by
    // well over this bound; with one, what grows is the id map, the log's buffers and
    // allocator slack.
    let grown = value("process_resident_memory_bytes") - rss_before;
    assert!(
        grown < 80e6,
        "resident memory grew by {:.0} MB during the flood",
        grown / 1e6
    );
    let used = value("recd_feature_store_memory_bytes");
    let budget = value("recd_feature_store_memory_budget_bytes");
    assert_eq!(budget, 2.0 * 1024.0 * 1024.0);
    assert!(used > 0.0 && used <= budget, "used {used} of {budget}");
    let evicted = value(r#"recd_feature_evictions_total{state="user",reason="budget"}"#);
    assert!(evicted > 0.0, "{text}");
    let cache_used = value("recd_answer_cache_memory_bytes");
    let cache_budget = value("recd_answer_cache_memory_budget_bytes");
    assert_eq!(cache_budget, 1024.0 * 1024.0);
    assert!(
        cache_used > 0.0 && cache_used <= cache_budget,
        "cache used {cache_used} of {cache_budget}"
    );
    assert!(value("recd_answer_cache_evictions_total") > 0.0, "{text}");
    // An evicted user starts again from their next event.
    let (status, _) = server.request(
        "POST",
        "/v1/events",
        &json!({"user_id": "flood-0", "item_id": "i7", "type": "view"}).to_string(),
    );
    assert_eq!(status, 202);
    server.wait_until(
        || {
            let (_, f) = server.get("/v1/users/flood-0/features");
            f["recent_views"]
                .as_array()
                .is_some_and(|v| v.first().is_some_and(|i| i["item_id"] == "i7"))
        },
        "showing the evicted user's new view",
    );
    server.stop();
}
