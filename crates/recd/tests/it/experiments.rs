//! Experiments from the config file, end to end: users split between variants by consistent
//! hashing, the same user in the same variant on every request and after a restart, a
//! popularity baseline variant answering with the popular list, the response naming the
//! variant, and a bad experiment refused naming its field.

use std::collections::{HashMap, HashSet};

use crate::recommend_http::trained_copy;
use crate::util::{Server, arg, recd};

/// Users split 50/50 between the pipeline (`control`) and the popular list (`pop`).
pub const EXPERIMENT: &str = r#"
[serve.recommend]
deadline_ms = 10000

[experiments.pop-test]
salt = "2026-12"
status = "running"

[[experiments.pop-test.variants]]
name = "control"
share = 50

[[experiments.pop-test.variants]]
name = "pop"
share = 50
baseline = "popular"
"#;

fn variants(server: &Server, users: &[String]) -> HashMap<String, (String, serde_json::Value)> {
    users
        .iter()
        .map(|u| {
            let (status, body) =
                server.get(&format!("/v1/recommendations?user_id={u}&num_results=10"));
            assert_eq!(status, 200, "{body}");
            (
                u.clone(),
                (body["variant"].as_str().unwrap().to_string(), body),
            )
        })
        .collect()
}

#[test]
fn users_split_by_consistent_hashing_and_the_baseline_variant_answers_popular() {
    let (tmp, data, _) = trained_copy();
    let config = tmp.path().join("exp.toml");
    std::fs::write(&config, EXPERIMENT).unwrap();
    let users: Vec<String> = (0..40).map(|i| format!("exp-user-{i}")).collect();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let first = variants(&server, &users);
    let seen: HashSet<&str> = first.values().map(|(v, _)| v.as_str()).collect();
    assert_eq!(
        seen,
        HashSet::from(["pop-test/control", "pop-test/pop"]),
        "both variants get users"
    );
    for (user, (variant, body)) in &first {
        assert_eq!(body["experiments"], serde_json::json!([variant]), "{body}");
        if variant == "pop-test/pop" {
            let items = body["items"].as_array().unwrap();
            assert_eq!(items.len(), 10, "{body}");
            assert!(
                items
                    .iter()
                    .all(|i| i["source"] == "popular" && i["reason"] == "popular"),
                "{user}: the baseline is the popular list: {body}"
            );
        }
    }
    // Sticky: the same variant on the next request, and after a restart.
    let again = variants(&server, &users);
    server.stop();
    let restarted = Server::start(&data, &["--config", arg(&config)]);
    let after = variants(&restarted, &users);
    for u in &users {
        assert_eq!(first[u].0, again[u].0, "{u}");
        assert_eq!(first[u].0, after[u].0, "{u} after a restart");
    }
}

#[test]
fn a_bad_experiment_is_refused_naming_its_field() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("bad.toml");
    std::fs::write(
        &config,
        EXPERIMENT.replace("share = 50\nbaseline", "share = 40\nbaseline"),
    )
    .unwrap();
    let out = recd(&["config", "show", "--config", arg(&config)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("experiments.pop-test.variants") && err.contains("sum to 90"),
        "{err}"
    );
}
