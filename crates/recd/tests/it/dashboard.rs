//! The built-in dashboard in a real browser: Debian's chromium driven by playwright-core
//! (`tests/browser/dashboard.cjs`) against the real binary, open on loopback and then behind
//! an admin key.
//!
//! Needs node, chromium and the playwright-core package (`RECD_NODE_MODULES`: the
//! `node_modules` directory holding it; `.ci/run` installs all three). Without them the test
//! says so and passes, except under CI, where it fails. With `RECD_SCREENSHOTS=DIR` the
//! screenshots are kept there.

use std::process::Command;

use crate::auth::create_key;
use crate::recommend_http::trained_copy;
use crate::util::{Server, arg, dataset};

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
    // Kept for people to look at (CI keeps this directory as an artifact).
    if let Some(dir) = std::env::var_os("RECD_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(
            shot,
            std::path::Path::new(&dir).join(shot.file_name().unwrap()),
        )
        .unwrap();
    }
    stdout
}

const EXPERIMENT: &str = r#"{"salt": "d", "status": "running",
    "variants": [{"name": "control", "share": 50}, {"name": "pop", "share": 50, "baseline": "popular"}]}"#;

/// A user of the trained data who has just viewed an item (returned with it), once their
/// features show the view.
fn active_user(server: &Server) -> (String, String) {
    let data = dataset();
    let user = data.user_ids()[0].clone();
    let item = data.item_rows()[3].id.clone();
    let event = serde_json::json!({"user_id": user, "item_id": item, "type": "view"});
    let (status, body) = server.request("POST", "/v1/events", &event.to_string());
    assert_eq!(status, 202, "{body}");
    server.wait_until(
        || server.get(&format!("/v1/users/{user}/features")).0 == 200,
        "the view in the user's features",
    );
    (user, item)
}

/// Impressions the experiment's report counts over its variants.
fn impressions(server: &Server) -> u64 {
    let (status, report) = server.get("/v1/admin/experiments/dash/report");
    assert_eq!(status, 200, "{report}");
    report["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["impressions"].as_u64().unwrap())
        .sum()
}

#[test]
fn looking_a_user_up_shows_profile_activity_and_an_explained_list_without_recording_it() {
    let (_tmp, data, config) = trained_copy();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let (status, body) = server.request("PUT", "/v1/admin/experiments/dash", EXPERIMENT);
    assert_eq!(status, 200, "{body}");
    let (user, item) = active_user(&server);

    let (status, body) = server.get(&format!("/v1/admin/users/{user}?num_results=7"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], user.as_str());
    assert_eq!(body["known_to_model"], true, "{body}");
    assert_eq!(
        body["features"]["recent_views"][0]["item_id"],
        item.as_str()
    );
    let items = body["recommendations"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 7, "{body}");
    assert!(
        items
            .iter()
            .all(|i| !i["reason"].as_str().unwrap().is_empty()),
        "{body}"
    );
    let experiments = body["recommendations"]["experiments"].as_array().unwrap();
    assert_eq!(
        experiments.len(),
        1,
        "the user is in the experiment: {body}"
    );

    // A stranger: no profile, no features, not in the model, still a list.
    let (status, body) = server.get("/v1/admin/users/nobody-at-all");
    assert_eq!(status, 200, "{body}");
    assert!(
        body["profile"].is_null() && body["features"].is_null(),
        "{body}"
    );
    assert_eq!(body["known_to_model"], false);
    assert_eq!(
        body["recommendations"]["items"].as_array().unwrap().len(),
        10
    );

    // Looking up records nothing; serving the same user does.
    let before = impressions(&server);
    for _ in 0..5 {
        assert_eq!(server.get(&format!("/v1/admin/users/{user}")).0, 200);
    }
    assert_eq!(
        server.get(&format!("/v1/recommendations?user_id={user}")).0,
        200
    );
    server.wait_until(
        || impressions(&server) > before,
        "the served list in the report",
    );
    assert_eq!(
        impressions(&server),
        before + 20,
        "one list of 20, not the look-ups"
    );

    let (status, body) = server.get(&format!("/v1/admin/users/{user}?num_results=0"));
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("num_results"))
    );
    let (status, body) = server.get(&format!("/v1/admin/users/{user}?n=3"));
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("n")));
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
    // An experiment, a user with recent activity and some traffic, so that every panel has
    // something to show.
    let (status, body) = server.request("PUT", "/v1/admin/experiments/dash", EXPERIMENT);
    assert_eq!(status, 200, "{body}");
    let (user, item) = active_user(&server);
    // Every other user clicks the top item: both arms get clicks, so the report has a CTR
    // difference with an interval to plot.
    for k in 0..60 {
        let (status, answer) = server.get(&format!("/v1/recommendations?user_id=u{k}"));
        assert_eq!(status, 200, "{answer}");
        if k % 2 == 0 {
            let click = serde_json::json!({"user_id": format!("u{k}"), "type": "click",
                "item_id": answer["items"][0]["item_id"], "request_id": answer["request_id"]});
            assert_eq!(
                server.request("POST", "/v1/events", &click.to_string()).0,
                202
            );
        }
    }
    let open = drive(
        &modules,
        &url,
        &version,
        &tmp.path().join("open.png"),
        &["--experiment", "dash", "--user", &user],
    );
    assert!(open.contains(&version), "{open}");
    assert!(
        open.contains(&item),
        "the viewed item in the activity: {open}"
    );

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
