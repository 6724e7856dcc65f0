//! The built-in dashboard in a real browser: Debian's chromium driven by playwright-core
//! (`tests/browser/dashboard.cjs`) against the real binary, open on loopback and then behind
//! an admin key.
//!
//! Needs node, chromium and the playwright-core package (`RECD_NODE_MODULES`: the
//! `node_modules` directory holding it; `.ci/run` installs all three). Without them the test
//! says so and passes, except under CI, where it fails.

use std::process::Command;

use crate::auth::create_key;
use crate::recommend_http::trained_copy;
use crate::util::{Server, arg};

/// `node_modules` with playwright-core, if node, chromium and it are all there.
fn browser_kit() -> Option<String> {
    let modules =
        std::env::var("RECD_NODE_MODULES").unwrap_or_else(|_| "/tmp/pw/node_modules".into());
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let found = node
        && std::path::Path::new(&chromium).is_file()
        && std::path::Path::new(&modules)
            .join("playwright-core")
            .is_dir();
    if found {
        return Some(modules);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must provide node, chromium ({chromium}) and playwright-core in RECD_NODE_MODULES ({modules})"
    );
    eprintln!(
        "dashboard browser test skipped: node, {chromium} or {modules}/playwright-core missing"
    );
    None
}

fn drive(
    modules: &str,
    url: &str,
    version: &str,
    shot: &std::path::Path,
    extra: &[&str],
) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/dashboard.cjs");
    let out = Command::new("node")
        .arg(script)
        .args([url, version, arg(shot)])
        .args(extra)
        .env("NODE_PATH", modules)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "the dashboard check failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::metadata(shot).is_ok_and(|m| m.len() > 10_000),
        "a screenshot was taken"
    );
    stdout
}

#[test]
fn the_dashboard_shows_live_figures_in_a_browser_and_asks_for_a_key_once_keys_exist() {
    let Some(modules) = browser_kit() else {
        return;
    };
    let (tmp, data, config) = trained_copy();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let url = format!("http://{}", server.addr);
    let (_, models) = server.get("/v1/admin/models");
    let version = models["current"]
        .as_str()
        .expect("a current model")
        .to_string();
    // Some traffic, so that the figures have something to show.
    for k in 0..20 {
        assert_eq!(
            server.get(&format!("/v1/recommendations?user_id=u{k}")).0,
            200
        );
    }
    let open = drive(&modules, &url, &version, &tmp.path().join("open.png"), &[]);
    assert!(open.contains(&version), "{open}");

    let key = create_key(&data, "dash", "admin");
    server.wait_until(
        || server.get("/v1/admin/models").0 == 401,
        "the admin routes to need the key",
    );
    let shut = drive(
        &modules,
        &url,
        &version,
        &tmp.path().join("auth.png"),
        &["--expect-auth"],
    );
    assert!(shut.contains("asked"), "{shut}");
    let keyed = drive(
        &modules,
        &url,
        &version,
        &tmp.path().join("keyed.png"),
        &["--key", &key],
    );
    assert!(keyed.contains(&version), "{keyed}");
}
