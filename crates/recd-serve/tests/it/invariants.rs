//! Architecture invariant: serving never links training or the feature writer.
//! `recd-serve` must not reach `recd-train` or `recd-stream` through any dependency, dev
//! dependencies included (ARCHITECTURE: the updater is the only writer of online features).

use std::collections::{HashMap, HashSet};
use std::process::Command;

use serde_json::Value;

#[test]
fn recd_serve_cannot_reach_recd_train_or_recd_stream() {
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
    // Each package's dependencies, with whether they are dev-only (those count for
    // recd-serve itself, whose tests link them, but not for the crates below it).
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
        .find(|id| name_of(id) == "recd-serve")
        .copied()
        .unwrap();
    let mut seen = HashSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let name = name_of(id);
        assert!(
            name != "recd-train" && name != "recd-stream",
            "recd-serve reaches {name}"
        );
        let follow = deps.get(id).into_iter().flatten();
        stack.extend(
            follow
                .filter(|(_, dev_only)| id == start || !dev_only)
                .map(|(d, _)| *d),
        );
    }
    assert!(
        seen.len() > 10,
        "walked the graph ({} packages)",
        seen.len()
    );
}
