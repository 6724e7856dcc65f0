//! The gradual rollout end to end, with the real binary: a candidate trained on the served
//! world climbs the steps and is promoted; a deliberately broken candidate (trained on events
//! whose item ids were mis-joined) is rolled back. Simulated
//! users (`recd simulate`) make the traffic and the clicks; `GET /v1/admin/models` shows
//! every step.

use std::path::Path;

use serde_json::Value;

use recd_features::testing::RedisServer;

use crate::util::{Server, arg, recd_ok};

/// The world: enough users that a tenth-of-CTR difference is measurable within a few runs of
/// simulated traffic (per-user CTRs vary, and users are the unit of the test).
const WORLD: [&str; 10] = [
    "--users",
    "5000",
    "--items",
    "200",
    "--events",
    "150000",
    "--seed",
    "1",
    "--device-effect",
    "0",
];

/// The first step serves a fifth of users, so that a test-sized population decides quickly;
/// the margin is wider than the default's 10% for the same reason. The false-alarm rate is
/// 1% rather than 5%: a false alarm on the good candidate would fail the test.
const CONFIG: &str = r#"
[train]
rollout = "candidate"
# The test world's hold-out is small: let the gate compare it anyway.
gate_min_users = 10

[serve.rollout]
steps = [20, 50, 100]
min_impressions = 8000
max_impressions = 80000
max_ctr_drop = 0.15
alpha = 0.01
check_every_ms = 100
"#;

/// Runs of simulated traffic before a rollout must have ended.
const MAX_RUNS: usize = 12;

fn models(server: &Server) -> Value {
    let (status, body) = server.get("/v1/admin/models");
    assert_eq!(status, 200, "{body}");
    body
}

/// The newest step of the rollout history `models` shows.
fn last_step(models: &Value) -> Value {
    models["rollout"]["steps"]
        .as_array()
        .and_then(|steps| steps.last())
        .unwrap_or_else(|| panic!("a rollout step: {models}"))
        .clone()
}

fn actions(models: &Value, candidate: &str) -> Vec<String> {
    models["rollout"]["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("rollout steps: {models}"))
        .iter()
        .filter(|s| s["candidate"] == candidate)
        .map(|s| s["action"].as_str().unwrap().to_string())
        .collect()
}

/// Drives simulated users at the server until the rollout of `candidate` has ended
/// (promoted or rolled back); returns its actions.
fn drive(server: &Server, candidate: &str) -> Vec<String> {
    drive_fleet(&[server], candidate)
}

/// Drives simulated users at `servers`, one run at each in turn, until the rollout of
/// `candidate` has ended on the first; returns its actions.
fn drive_fleet(servers: &[&Server], candidate: &str) -> Vec<String> {
    let server = servers[0];
    // In a fleet, the driving process hears the others' impressions up to two publish
    // intervals late (5 s each), so a decision may take more runs.
    let runs = MAX_RUNS * servers.len();
    for run in 0..runs {
        let url = format!("http://{}", servers[run % servers.len()].addr);
        let mut args = vec!["simulate", "--server", &url];
        args.extend_from_slice(&WORLD);
        args.extend_from_slice(&["--sim-users", "5000", "--steps", "1", "--n", "10"]);
        recd_ok(&args);
        // The rollout looks every 100 ms once attribution has the run's clicks.
        std::thread::sleep(std::time::Duration::from_millis(600));
        let done = actions(&models(server), candidate);
        if done
            .last()
            .is_some_and(|a| a == "promoted" || a == "rolled_back")
        {
            return done;
        }
    }
    panic!(
        "the rollout of {candidate} did not end within {runs} runs: {}",
        models(server)
    );
}

fn current(data: &Path) -> String {
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("models/STATE.json")).unwrap())
            .unwrap();
    state["current"].as_str().unwrap().to_string()
}

fn candidate(data: &Path) -> Option<String> {
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("models/STATE.json")).unwrap())
            .unwrap();
    state["candidate"].as_str().map(String::from)
}

/// Trains a model in `<dir>/broken` on the world's events with every item id replaced by
/// another's (a fixed permutation): what it learned is true of no item. Returns its version.
fn mis_joined_model(dir: &Path) -> String {
    let csv = dir.join("csv");
    recd_ok(&[&["gen"][..], &WORLD, &["--out", arg(&csv)]].concat());
    let items = 200;
    let wrong = |id: &str| {
        if id.is_empty() {
            // Searches name no item.
            return String::new();
        }
        let k: usize = id.trim_start_matches('i').parse().unwrap();
        format!("i{}", (k * 7 + 91) % items)
    };
    let (header, rows) = crate::util::read_csv(&csv.join("events.csv"));
    let col = header.iter().position(|h| h == "item_id").unwrap();
    let mut out = csv::Writer::from_path(csv.join("mis_joined.csv")).unwrap();
    out.write_record(&header).unwrap();
    for row in rows {
        let fields: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, f)| if i == col { wrong(f) } else { f.to_string() })
            .collect();
        out.write_record(&fields).unwrap();
    }
    out.flush().unwrap();
    let broken = dir.join("broken");
    let file = |name: &str| csv.join(name).to_str().unwrap().to_string();
    recd_ok(&[
        "import",
        "--data-dir",
        arg(&broken),
        "--events",
        &file("mis_joined.csv"),
        "--items",
        &file("items.csv"),
        "--users",
        &file("users.csv"),
        "--format",
        "csv",
    ]);
    recd_ok(&["train", "--data-dir", arg(&broken)]);
    current(&broken)
}

#[test]
fn a_good_candidate_is_promoted_in_steps_and_a_broken_one_rolled_back() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = tmp.path().join("rollout.toml");
    std::fs::write(&config, CONFIG).unwrap();
    recd_ok(&[&["gen"][..], &WORLD, &["--data-dir", arg(&data)]].concat());
    recd_ok(&["train", "--data-dir", arg(&data)]);
    let first = current(&data);
    let server = Server::start(&data, &["--config", arg(&config)]);
    // A variant may name only a version the server holds: CURRENT or CANDIDATE.
    let (status, body) = server.request(
        "PUT",
        "/v1/admin/experiments/canary",
        r#"{"salt": "s", "status": "running", "variants": [{"name": "control", "share": 50},
            {"name": "next", "share": 50, "model": "v-nope"}]}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "variants[1].model", "{body}");
    assert_eq!(server.get("/v1/admin/experiments/canary").0, 404);

    // A good candidate: trained on the same world, through the gate, staged by the policy.
    let out = recd_ok(&["train", "--data-dir", arg(&data), "--config", arg(&config)]);
    let good = candidate(&data).unwrap_or_else(|| panic!("staged as the candidate: {out}"));
    assert_eq!(current(&data), first);
    server.wait_until(
        || models(&server)["rollout"]["active"]["candidate"] == good.as_str(),
        "the rollout of the candidate started",
    );
    let m = models(&server);
    assert_eq!(m["rollout"]["active"]["share"], 20.0, "{m}");
    assert_eq!(
        m["rollout"]["active"]["experiment"],
        format!("rollout-{good}-20"),
        "{m}"
    );
    let steps = drive(&server, &good);
    assert_eq!(
        steps,
        ["started", "ramped", "promoted"],
        "{}",
        models(&server)
    );
    assert_eq!(current(&data), good);
    assert_eq!(candidate(&data), None);
    let m = models(&server);
    assert_eq!(m["current"], good.as_str(), "{m}");
    assert!(m["rollout"]["active"].is_null(), "{m}");
    let promoted = last_step(&m);
    assert_eq!(promoted["share"], 100.0, "{m}");
    assert!(
        promoted["candidate_impressions"].as_u64().unwrap() >= 8000,
        "{m}"
    );
    // Each step's experiment is stopped, and its report is still there, counting that step's
    // impressions (at least those the step was decided on).
    let decided = &m["rollout"]["steps"].as_array().unwrap()[1..];
    for (share, step) in [20, 50].iter().zip(decided) {
        let (status, report) = server.get(&format!(
            "/v1/admin/experiments/rollout-{good}-{share}/report"
        ));
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["status"], "stopped", "{report}");
        assert_eq!(report["variants"][1]["name"], "candidate", "{report}");
        let shown = report["variants"][1]["impressions"].as_u64().unwrap();
        assert!(
            shown >= step["candidate_impressions"].as_u64().unwrap(),
            "{report} {step}"
        );
    }
    server.wait_until(
        || models(&server)["resident"] == serde_json::json!([good.as_str()]),
        "the promoted version served alone",
    );

    // A broken candidate: a model trained on events whose item ids were mis-joined (each
    // event names another item, the same wrong one every time), staged by an operator.
    let broken = mis_joined_model(tmp.path());
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(tmp.path().join("broken/models").join(&broken))
        .arg(data.join("models"))
        .status()
        .unwrap();
    assert!(status.success());
    let out = recd_ok(&["models", "stage", "--data-dir", arg(&data), &broken]);
    assert!(
        out.contains(&format!("candidate model is now {broken}")),
        "{out}"
    );
    let steps = drive(&server, &broken);
    assert_eq!(steps.first().map(String::as_str), Some("started"));
    assert_eq!(
        steps.last().map(String::as_str),
        Some("rolled_back"),
        "{}",
        models(&server)
    );
    assert!(!steps.iter().any(|s| s == "promoted"));
    assert_eq!(current(&data), good, "CURRENT did not move");
    assert_eq!(candidate(&data), None, "the candidate slot was emptied");
    let m = models(&server);
    let last = last_step(&m);
    let (cur, cand) = (
        last["current_ctr"].as_f64().unwrap(),
        last["candidate_ctr"].as_f64().unwrap(),
    );
    assert!(
        cand < cur,
        "the broken model's CTR {cand} is below {cur}: {m}"
    );
    assert!(!last["reason"].as_str().unwrap().is_empty(), "{m}");

    // The steps, for the test's log.
    for s in m["rollout"]["steps"].as_array().unwrap() {
        eprintln!(
            "{} {} at {}%: candidate {} impressions, CTR {} against {}; p {}; {}",
            s["candidate"],
            s["action"],
            s["share"],
            s["candidate_impressions"],
            s["candidate_ctr"],
            s["current_ctr"],
            s["p_value"],
            s["reason"]
        );
    }

    // A restart keeps the history.
    server.stop();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let again = models(&server);
    assert_eq!(again["rollout"]["steps"], m["rollout"]["steps"]);
    server.stop();
}

/// In a fleet, one API process at a time drives the rollout, from the fleet's report, over
/// the models directory the fleet shares: simulated users reach both API processes in turn,
/// the candidate is promoted once, and both show the same steps.
#[test]
fn in_a_fleet_one_api_process_drives_the_rollout_over_the_shared_models() {
    let tmp = tempfile::tempdir().unwrap();
    let shared = tmp.path().join("data").join("models");
    fleet_rollout(
        tmp.path(),
        &[("RECD__MODELS__STORE".into(), arg(&shared).into())],
    );
}

/// The same over a model store in S3 (a local S3 server): decisions go to the store's
/// registry, and every API process's copy follows.
#[test]
fn in_a_fleet_over_s3_the_rollout_promotes_in_the_store() {
    let Some(moto) = crate::model_store::Moto::start() else {
        return;
    };
    moto.bucket("rollout");
    let tmp = tempfile::tempdir().unwrap();
    fleet_rollout(tmp.path(), &moto.env("rollout"));
}

/// Two API processes over one Redis and the model store `store_env` names; the rollout of a
/// good candidate driven to its promotion by simulated users on both.
fn fleet_rollout(tmp: &Path, store_env: &[(String, String)]) {
    let Some(redis) = RedisServer::start_durable() else {
        return;
    };
    let data = tmp.join("data");
    let config = tmp.join("rollout.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let recd = |args: &[&str]| crate::model_store::recd_env(args, store_env);
    recd(&[&["gen"][..], &WORLD, &["--data-dir", arg(&data)]].concat());
    recd(&["train", "--data-dir", arg(&data)]);
    let url = redis.url();
    let api = |name: &str| {
        let env: Vec<(&str, &str)> = store_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Server::spawn(
            &[
                "serve",
                "--data-dir",
                arg(&tmp.join(name)),
                "--listen",
                "127.0.0.1:0",
                "--events",
                &url,
                "--feature-store",
                &url,
                "--config",
                arg(&config),
            ],
            &env,
        )
    };
    let (a, b) = (api("a"), api("b"));
    // The fleet's catalog is on its Redis: the world's items, through the API.
    let csv = tmp.join("csv");
    recd_ok(&[&["gen"][..], &WORLD, &["--out", arg(&csv)]].concat());
    recd_ok(&[
        "import",
        "--server",
        &format!("http://{}", a.addr),
        "--items",
        arg(&csv.join("items.csv")),
        "--format",
        "csv",
    ]);
    let first = models(&a)["current"].clone();
    assert!(first.is_string(), "a current model served: {}", models(&a));
    recd(&["train", "--data-dir", arg(&data), "--config", arg(&config)]);
    a.wait_until(
        || models(&a)["candidate"].is_string(),
        "the new version staged as the candidate",
    );
    let good = models(&a)["candidate"].as_str().unwrap().to_string();
    for server in [&a, &b] {
        server.wait_until(
            || models(server)["rollout"]["active"]["candidate"] == good.as_str(),
            "the rollout of the candidate started, and shown by both processes",
        );
    }
    let steps = drive_fleet(&[&a, &b], &good);
    assert_eq!(steps, ["started", "ramped", "promoted"], "{}", models(&a));
    // One history for the fleet: B shows the steps, whichever process drove them.
    b.wait_until(
        || actions(&models(&b), &good) == steps,
        "the same steps on the other process",
    );
    let m = models(&b);
    let promoted = last_step(&m);
    assert!(
        promoted["candidate_impressions"].as_u64().unwrap() >= 8000,
        "decided on the fleet's impressions: {m}"
    );
    for server in [&a, &b] {
        server.wait_until(
            || {
                let m = models(server);
                m["current"] == good.as_str() && m["candidate"].is_null()
            },
            "the promotion in the registry every process reads",
        );
    }
    assert_ne!(first, good.as_str());
}
