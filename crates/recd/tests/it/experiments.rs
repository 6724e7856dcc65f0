//! Experiments from the config file, end to end: users split between variants by consistent
//! hashing, the same user in the same variant on every request and after a restart, a
//! popularity baseline variant answering with the popular list, the response naming the
//! variant, and a bad experiment refused naming its field.

use std::collections::{HashMap, HashSet};

use crate::recommend_http::trained_copy;
use crate::util::{Server, arg, recd, recd_err, recd_ok};

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

[serve.guardrails]
# These tests measure the experiment to its end: the watch reports, it does not stop it.
stop = false
check_every_ms = 200
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

    // A visitor without a user id is assigned by their session: the unit `session:<id>`,
    // sticky for the session, and the same as a user of that id would be.
    let anonymous = |session: &str| {
        let (status, body) = restarted.get(&format!(
            "/v1/recommendations?session_id={session}&num_results=5"
        ));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user_id"], format!("session:{session}"), "{body}");
        body["variant"].as_str().unwrap().to_string()
    };
    let sessions: Vec<String> = (0..40).map(|i| format!("visit-{i}")).collect();
    let by_session: HashSet<String> = sessions.iter().map(|s| anonymous(s)).collect();
    assert_eq!(
        by_session.len(),
        2,
        "sessions land in both variants: {by_session:?}"
    );
    let as_users = variants(
        &restarted,
        &sessions
            .iter()
            .map(|s| format!("session:{s}"))
            .collect::<Vec<_>>(),
    );
    for s in &sessions {
        assert_eq!(anonymous(s), as_users[&format!("session:{s}")].0, "{s}");
    }
    // A user id wins over a session; neither is a 400 naming user_id.
    let (_, body) = restarted.get("/v1/recommendations?user_id=exp-user-1&session_id=visit-9");
    assert_eq!(body["user_id"], "exp-user-1", "{body}");
    let (status, body) = restarted.get("/v1/recommendations?num_results=5");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "user_id", "{body}");
    let (status, body) = restarted.get("/v1/recommendations?session_id=a%20b");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "session_id", "{body}");
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

/// The served answers are recorded as impressions, clicks citing them are joined to them,
/// and the report counts both per variant: here control's lists get three clicks each and
/// the popularity variant's one (give or take one, so per-user CTRs vary), so control's CTR is
/// three times pop's and significantly higher. A click without a request id is attributed by user and item within the window.
#[test]
fn clicks_citing_an_answer_are_attributed_to_its_variant_in_the_report() {
    let (tmp, data, _) = trained_copy();
    let config = tmp.path().join("exp.toml");
    std::fs::write(&config, EXPERIMENT).unwrap();
    let users: Vec<String> = (0..80).map(|i| format!("report-user-{i}")).collect();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let answers = variants(&server, &users);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut events = Vec::new();
    let mut want = HashMap::<&str, (u64, u64)>::new();
    for (n, (user, (variant, body))) in answers.iter().enumerate() {
        let items = body["items"].as_array().unwrap();
        let clicks = if variant == "pop-test/control" { 2 } else { 0 } + n % 3;
        for item in &items[..clicks] {
            events.push(serde_json::json!({
                "user_id": user, "item_id": item["item_id"], "type": "click",
                "timestamp": now, "request_id": body["request_id"], "dwell_ms": 20000,
            }));
        }
        let name = variant.rsplit('/').next().unwrap();
        let w = want
            .entry(if name == "control" { "control" } else { "pop" })
            .or_default();
        w.0 += items.len() as u64;
        w.1 += clicks as u64;
    }
    // No request id: the user's newest answer that showed the item gets it.
    let (user, (variant, body)) = answers.iter().next().unwrap();
    events.push(serde_json::json!({
        "user_id": user, "item_id": body["items"][9]["item_id"], "type": "purchase",
        "timestamp": now,
    }));
    let (status, body) = server.request(
        "POST",
        "/v1/events",
        &serde_json::Value::Array(events).to_string(),
    );
    assert_eq!(status, 202, "{body}");

    let report = |server: &Server| {
        let (status, report) = server.get("/v1/admin/experiments/pop-test/report");
        assert_eq!(status, 200, "{report}");
        report
    };
    let clicks = |r: &serde_json::Value| {
        r["variants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["clicks"].as_u64().unwrap())
            .sum::<u64>()
    };
    let total: u64 = want.values().map(|w| w.1).sum();
    server.wait_until(
        || clicks(&report(&server)) == total,
        "every click attributed",
    );
    let r = report(&server);
    assert_eq!(r["control"], "control");
    assert_eq!(r["status"], "running");
    for v in r["variants"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        assert_eq!(
            (
                v["impressions"].as_u64().unwrap(),
                v["clicks"].as_u64().unwrap()
            ),
            want[name],
            "{r}"
        );
        assert_eq!(
            v["answers"].as_u64().unwrap(),
            v["users"].as_u64().unwrap(),
            "{r}"
        );
    }
    let bought = variant.rsplit('/').next().unwrap();
    let conversions = |r: &serde_json::Value, name: &str| {
        r["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()["conversions"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(conversions(&r, bought), 1, "{r}");
    let ctr = r["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"] == "ctr")
        .unwrap();
    assert_eq!(ctr["variant"], "pop");
    assert!(
        ctr["diff"].as_f64().unwrap() < 0.0 && ctr["p_value"].as_f64().unwrap() < 0.05,
        "{r}"
    );
    assert!(r["srm_p_value"].as_f64().unwrap() > 0.001, "{r}");
    let (status, missing) = server.get("/v1/admin/experiments/nope/report");
    assert_eq!(status, 404, "{missing}");

    // A restart rebuilds the same counts from the logs.
    server.stop();
    let restarted = Server::start(&data, &["--config", arg(&config)]);
    restarted.wait_until(
        || report(&restarted)["complete"] == true,
        "the tally rebuilt",
    );
    let again = report(&restarted);
    assert_eq!(again["variants"], r["variants"]);
}

/// Experiments as data: a definition PUT over the admin API takes effect at once, survives a
/// restart with the same assignments, and a bad one is refused naming its field with nothing
/// changed.
#[test]
fn an_experiment_put_over_the_api_runs_at_once_and_after_a_restart() {
    let (_tmp, data, _) = trained_copy();
    let server = Server::start(&data, &[]);
    let users: Vec<String> = (0..30).map(|i| format!("api-exp-user-{i}")).collect();
    let before = variants(&server, &users);
    assert!(
        before.values().all(|(v, _)| v == "default"),
        "no experiment yet"
    );
    let good = serde_json::json!({
        "salt": "s1", "status": "running",
        "variants": [{"name": "control", "share": 50}, {"name": "pop", "share": 50, "baseline": "popular"}],
    });
    let (status, body) = server.request("PUT", "/v1/admin/experiments/api-test", &good.to_string());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["source"], "api");
    let first = variants(&server, &users);
    let seen: HashSet<&str> = first.values().map(|(v, _)| v.as_str()).collect();
    assert_eq!(seen, HashSet::from(["api-test/control", "api-test/pop"]));

    let cases = [
        (
            serde_json::json!({"salt": "s", "variants": [{"name": "a", "share": 50}, {"name": "b", "share": 40}]}),
            "variants",
        ),
        (
            serde_json::json!({"salt": "s", "status": "started", "variants": [{"name": "a", "share": 100}]}),
            "status",
        ),
        (
            serde_json::json!({"salt": "s", "variants": [{"name": "a", "share": 100, "recommend": {"deadline": 5}}]}),
            "variants[0].recommend",
        ),
        (
            serde_json::json!({"salt": "s", "status": "running", "variants": [{"name": "a", "share": 100}]}),
            "layer_buckets",
        ),
    ];
    for (bad, field) in cases {
        let (status, body) = server.request("PUT", "/v1/admin/experiments/bad", &bad.to_string());
        assert_eq!(status, 400, "{bad}: {body}");
        let named = body["error"]["field"].as_str().unwrap_or_default();
        assert!(named.starts_with(field), "{bad}: {body}");
    }
    let (status, body) = server.get("/v1/admin/experiments");
    assert_eq!(status, 200);
    let names: Vec<&str> = body["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["api-test"],
        "a refused definition is not stored: {body}"
    );

    // The same through `recd experiments`: a ramp is a PUT of the changed shares; one that
    // breaks the sum is refused with the server's reason; ramping back restores every user's
    // variant (assignment is a function of the shares).
    let url = format!("http://{}", server.addr);
    let ramp = |shares: &[&'static str]| {
        let mut args = vec!["experiments", "ramp", "--server", url.as_str(), "api-test"];
        for s in shares {
            args.extend(["--share", *s]);
        }
        args
    };
    let out = recd_ok(&ramp(&["control=90", "pop=10"]));
    assert!(
        out.contains("control=90") && out.contains("running"),
        "{out}"
    );
    let err = recd_err(&ramp(&["control=50"]));
    assert!(err.contains("shares sum to 60, not 100"), "{err}");
    recd_ok(&ramp(&["control=50", "pop=50"]));
    let listed = recd_ok(&["experiments", "list", "--server", &url]);
    assert!(
        listed.starts_with("api-test\trunning\tapi\tcontrol=50"),
        "{listed}"
    );
    let ramped_back = variants(&server, &users);
    for u in &users {
        assert_eq!(
            first[u].0, ramped_back[u].0,
            "{u}: ramped back, the same variant"
        );
    }

    server.stop();
    let restarted = Server::start(&data, &[]);
    let after = variants(&restarted, &users);
    for u in &users {
        assert_eq!(first[u].0, after[u].0, "{u} after a restart");
    }
}
