//! Architecture invariants over the crate graph (`cargo metadata`), dev dependencies
//! included for the crate itself (its tests link them):
//! - serving never links training or the feature writer: `recd-serve` must not reach
//!   `recd-train` or `recd-stream` (ARCHITECTURE: the updater is the only writer of online
//!   features);
//! - the online engine is transport-free: `recd-online` reaches no HTTP crate (it is what the
//!   HTTP edge, `recd recommend` and evaluation share) and no training code either; nor does
//!   `recd-attribution` (online metrics);
//! - the event bus carries records and nothing else: `recd-bus` reaches no HTTP crate, no
//!   training code and no model code;
//! - the model store sits below both roles: `recd-model-store` (which `recd train` publishes
//!   through and `recd serve` reads through) reaches no training code and no serving code,
//!   and the engine does not reach it (its S3 client is an HTTP crate).

use std::collections::{HashMap, HashSet};
use std::process::Command;

use serde_json::Value;

/// Every package `start` reaches, by name (its own dev dependencies followed, not those of
/// the crates below it).
fn reachable(start_name: &str) -> HashSet<String> {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let meta: Value = serde_json::from_slice(&output.stdout).unwrap();
    let nodes = meta["resolve"]["nodes"].as_array().unwrap();
    let name_of = |id: &str| -> String {
        let packages = meta["packages"].as_array().unwrap();
        let p = packages.iter().find(|p| p["id"] == id).unwrap();
        p["name"].as_str().unwrap().to_string()
    };
    let deps: HashMap<&str, Vec<(&str, bool)>> = nodes
        .iter()
        .map(|n| {
            let id = n["id"].as_str().unwrap();
            let ds = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    let kinds = d["dep_kinds"].as_array().unwrap();
                    let dev_only = kinds.iter().all(|k| k["kind"] == "dev");
                    (d["pkg"].as_str().unwrap(), dev_only)
                })
                .collect();
            (id, ds)
        })
        .collect();
    let start = deps
        .keys()
        .find(|id| name_of(id) == start_name)
        .copied()
        .unwrap_or_else(|| panic!("{start_name} is in the workspace"));
    let mut seen = HashSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let follow = deps.get(id).into_iter().flatten();
        stack.extend(
            follow
                .filter(|(_, dev_only)| id == start || !dev_only)
                .map(|(d, _)| *d),
        );
    }
    seen.into_iter().map(name_of).collect()
}

#[test]
fn recd_serve_cannot_reach_recd_train_or_recd_stream() {
    let seen = reachable("recd-serve");
    assert!(
        seen.len() > 10,
        "walked the graph ({} packages)",
        seen.len()
    );
    assert!(seen.contains("recd-online"), "serving uses the engine");
    for forbidden in ["recd-train", "recd-stream"] {
        assert!(!seen.contains(forbidden), "recd-serve reaches {forbidden}");
    }
}

#[test]
fn the_online_engine_reaches_no_http_crate_and_no_training_code() {
    let seen = reachable("recd-online");
    assert!(seen.contains("recd-model"), "walked the graph: {seen:?}");
    forbid_http_and_training("recd-online", &seen);
}

#[test]
fn attribution_reaches_no_http_crate_and_no_training_code() {
    let seen = reachable("recd-attribution");
    assert!(seen.contains("recd-stats"), "walked the graph: {seen:?}");
    forbid_http_and_training("recd-attribution", &seen);
}

#[test]
fn the_bus_reaches_no_http_crate_no_training_and_no_model_code() {
    let seen = reachable("recd-bus");
    assert!(seen.contains("recd-store"), "walked the graph: {seen:?}");
    forbid_http_and_training("recd-bus", &seen);
    assert!(!seen.contains("recd-model"), "recd-bus reaches recd-model");
}

#[test]
fn the_model_store_reaches_no_training_and_no_serving_code() {
    let seen = reachable("recd-model-store");
    assert!(seen.contains("recd-model"), "walked the graph: {seen:?}");
    assert!(seen.contains("object_store"), "walked the graph: {seen:?}");
    for forbidden in [
        "recd-train",
        "recd-stream",
        "recd-serve",
        "recd-online",
        "recd-api",
    ] {
        assert!(
            !seen.contains(forbidden),
            "recd-model-store reaches {forbidden}"
        );
    }
    assert!(
        !reachable("recd-online").contains("recd-model-store"),
        "recd-online reaches recd-model-store"
    );
}

fn forbid_http_and_training(krate: &str, seen: &HashSet<String>) {
    for forbidden in [
        "axum",
        "hyper",
        "tower",
        "tower-http",
        "http",
        "recd-api",
        "utoipa",
        "recd-serve",
        "recd-train",
        "recd-stream",
    ] {
        assert!(!seen.contains(forbidden), "{krate} reaches {forbidden}");
    }
}
