//! The model registry end to end: with `[train] rollout = "candidate"` a second training
//! becomes the CANDIDATE while the server keeps serving CURRENT; `recd models promote` swaps
//! the server to it and `recd models rollback` swaps it back; `GET /v1/admin/models` and
//! `recd models list` show the state at each step.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::{Server, arg, recd_ok, small_data};

fn served_version(server: &Server) -> String {
    let (status, body) = server.get("/v1/recommendations?user_id=u1&num_results=5");
    assert_eq!(status, 200, "{body}");
    body["model_version"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `recd train` with `envs`; returns the new version and stdout.
fn train(data: &Path, extra: &[&str], envs: &[(&str, &str)]) -> (String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_recd"))
        .args(["train", "--data-dir", arg(data)])
        .args(extra)
        .envs(envs.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .expect("recd train runs");
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "recd train failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let version = out
        .lines()
        .find_map(|l| l.strip_prefix("model "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the version trained")
        .to_string();
    (version, out)
}

fn registry(server: &Server) -> Value {
    let (status, body) = server.get("/v1/admin/models");
    assert_eq!(status, 200, "{body}");
    body
}

/// The line of `recd models list` that names `version`.
fn listed(data: &Path, version: &str) -> String {
    let list = recd_ok(&["models", "list", "--data-dir", arg(data)]);
    list.lines()
        .find(|l| l.contains(version))
        .unwrap_or_else(|| panic!("{version} not listed:\n{list}"))
        .to_string()
}

#[test]
fn a_candidate_waits_for_promotion_and_rollback_swaps_back() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    small_data(&data, false);
    let config = tmp.path().join("recd.toml");
    std::fs::write(&config, "[train]\nrollout = \"candidate\"\n").unwrap();

    // The first model has nothing to roll out beside: it becomes CURRENT at once.
    let (first, out) = train(&data, &["--config", arg(&config)], &[]);
    assert!(out.contains("CURRENT directly"), "{out}");
    let server = Server::spawn(
        &["serve", "--data-dir", arg(&data), "--listen", "127.0.0.1:0"],
        &[("RECD__SERVE__RECOMMEND__MODEL_POLL_MS", "50")],
    );
    assert_eq!(served_version(&server), first);

    // The second passes the gate (forced: the same data may tie) and waits as the candidate.
    let (second, out) = train(
        &data,
        &["--force"],
        &[("RECD__TRAIN__ROLLOUT", "candidate")],
    );
    assert!(out.contains("is the CANDIDATE"), "{out}");
    assert!(listed(&data, &first).starts_with('*'));
    let line = listed(&data, &second);
    assert!(
        line.starts_with('+') && line.ends_with("candidate"),
        "{line}"
    );
    // The server keeps CURRENT and does not load the candidate: nothing routes traffic to it.
    // Twenty answers span many 50 ms polls of the registry.
    for _ in 0..20 {
        assert_eq!(served_version(&server), first);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let state = registry(&server);
    assert_eq!(state["current"], first.as_str(), "{state}");
    assert_eq!(state["candidate"], second.as_str(), "{state}");
    assert_eq!(state["previous"], Value::Null, "{state}");
    assert_eq!(state["resident"], serde_json::json!([first]), "{state}");
    assert_eq!(state["max_resident_models"], 2, "{state}");
    let versions = state["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2, "{state}");
    for (v, role, resident) in [(&first, "current", true), (&second, "candidate", false)] {
        let entry = versions
            .iter()
            .find(|e| e["version"] == v.as_str())
            .unwrap_or_else(|| panic!("{v} missing: {state}"));
        assert_eq!(entry["role"], role, "{entry}");
        assert_eq!(entry["resident"], resident, "{entry}");
        assert!(entry["created_ms"].as_i64().unwrap_or(0) > 0, "{entry}");
        assert!(entry["ndcg_at_10"].as_f64().is_some(), "{entry}");
    }

    let out = recd_ok(&["models", "promote", "--data-dir", arg(&data)]);
    assert!(out.contains(&second), "{out}");
    server.wait_until(
        || served_version(&server) == second,
        "serving the promoted model",
    );
    let state = registry(&server);
    assert_eq!(state["current"], second.as_str(), "{state}");
    assert_eq!(state["candidate"], Value::Null, "{state}");
    assert_eq!(state["previous"], first.as_str(), "{state}");
    assert!(listed(&data, &first).starts_with('<'));

    let out = recd_ok(&["models", "rollback", "--data-dir", arg(&data)]);
    assert!(out.contains(&first), "{out}");
    server.wait_until(
        || served_version(&server) == first,
        "serving the old model again",
    );
    let state = registry(&server);
    assert_eq!(state["current"], first.as_str(), "{state}");
    assert_eq!(state["history"], serde_json::json!([]), "{state}");

    // Nothing left to undo; retention keeps both (one is current, the other the newest).
    let e = crate::util::recd_err(&["models", "rollback", "--data-dir", arg(&data)]);
    assert!(e.contains("no earlier CURRENT"), "{e}");
    let out = recd_ok(&["models", "gc", "--data-dir", arg(&data), "--keep", "1"]);
    assert!(out.contains("0 versions deleted"), "{out}");
    assert_eq!(
        std::fs::read_to_string(data.join("models/CURRENT"))
            .unwrap()
            .trim(),
        first,
        "the CURRENT mirror follows the registry"
    );
    server.stop();
}
