//! Training inside the live system: `POST /v1/admin/train` and the schedule run `recd train`
//! as a child process; `GET /v1/admin/jobs` shows each run with the gate's decision and both
//! numbers; a failing, over-memory or cancelled run leaves serving untouched.

use serde_json::{Value, json};

use crate::util::{Server, arg, small_data};

/// Polls the jobs list until job `id` has ended; returns it.
fn wait_for_end(server: &Server, id: u64) -> Value {
    let mut job = Value::Null;
    server.wait_until(
        || {
            let (status, body) = server.get("/v1/admin/jobs");
            assert_eq!(status, 200, "{body}");
            job = body["jobs"]
                .as_array()
                .and_then(|jobs| jobs.iter().find(|j| j["id"] == json!(id)).cloned())
                .unwrap_or(Value::Null);
            job["state"] != json!("running")
        },
        "the job ended",
    );
    job
}

#[test]
fn admin_train_runs_a_job_and_reports_the_gate_with_both_numbers() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    small_data(&data, true);
    let server = Server::spawn(
        &["serve", "--data-dir", arg(&data), "--listen", "127.0.0.1:0"],
        &[("RECD__TRAIN__SCHEDULE__EVERY", "3s")],
    );
    let (status, job) = server.request("POST", "/v1/admin/train", "");
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["state"], json!("running"));
    assert_eq!(job["trigger"], json!("api"));
    let id = job["id"].as_u64().expect("an id");
    // One at a time.
    let (status, body) = server.request("POST", "/v1/admin/train", "");
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], json!("conflict"));

    let job = wait_for_end(&server, id);
    assert_eq!(job["state"], json!("succeeded"), "{job}");
    let gate = &job["gate"];
    assert!(
        gate["candidate_ndcg"].as_f64().is_some_and(|n| n > 0.0),
        "{job}"
    );
    assert!(
        gate["current_ndcg"].as_f64().is_some_and(|n| n > 0.0),
        "{job}"
    );
    assert!(gate["current_version"].is_string(), "{job}");
    // Nothing was ingested since the current model was trained (and the hold-out is small):
    // no event is new to it, so the gate compares with its stored number.
    assert_eq!(gate["method"], json!("stored"), "{job}");
    assert!(
        gate["decision"]
            .as_str()
            .is_some_and(|d| d.contains("NDCG@10")),
        "{job}"
    );
    assert!(
        job["version"].is_string() && job["activated"].is_boolean(),
        "{job}"
    );

    // The schedule (every 3 s here) starts runs by itself.
    server.wait_until(
        || {
            let (_, body) = server.get("/v1/admin/jobs");
            body["jobs"].as_array().is_some_and(|jobs| {
                jobs.iter()
                    .any(|j| j["trigger"] == json!("schedule") && j["state"] == json!("succeeded"))
            })
        },
        "a scheduled run succeeded",
    );
    server.stop();
}

#[test]
fn failed_over_memory_and_cancelled_runs_leave_serving_untouched() {
    let tmp = tempfile::tempdir().expect("temp dir");
    // No events at all: training fails, and says why.
    let empty = tmp.path().join("empty");
    let server = Server::start(&empty, &["--no-train-schedule"]);
    let (status, job) = server.request("POST", "/v1/admin/train", "");
    assert_eq!(status, 202, "{job}");
    let job = wait_for_end(&server, job["id"].as_u64().expect("id"));
    assert_eq!(job["state"], json!("failed"), "{job}");
    assert!(
        job["error"]
            .as_str()
            .is_some_and(|e| e.contains("no interactions")),
        "{job}"
    );
    assert_eq!(server.get("/healthz").0, 200);
    server.stop();

    let data = tmp.path().join("data");
    small_data(&data, true);
    // A memory cap no training fits in.
    let server = Server::spawn(
        &[
            "serve",
            "--data-dir",
            arg(&data),
            "--listen",
            "127.0.0.1:0",
            "--no-train-schedule",
        ],
        &[("RECD__TRAIN__JOB__MEMORY_MB", "1")],
    );
    let (_, job) = server.request("POST", "/v1/admin/train", "");
    let job = wait_for_end(&server, job["id"].as_u64().expect("id"));
    assert_eq!(job["state"], json!("memory_exceeded"), "{job}");
    let (status, body) = server.get("/v1/recommendations?user_id=u1&num_results=5");
    assert_eq!(status, 200, "{body}");
    server.stop();

    // Cancelled while it runs; the history survives a restart.
    let server = Server::start(&data, &["--no-train-schedule"]);
    let (_, job) = server.request("POST", "/v1/admin/train", "");
    let id = job["id"].as_u64().expect("id");
    let (status, cancelled) = server.request("DELETE", &format!("/v1/admin/jobs/{id}"), "");
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["state"], json!("cancelled"), "{cancelled}");
    assert_eq!(
        server
            .request("DELETE", &format!("/v1/admin/jobs/{id}"), "")
            .0,
        409
    );
    assert_eq!(server.request("DELETE", "/v1/admin/jobs/999", "").0, 404);
    assert_eq!(server.request("DELETE", "/v1/admin/jobs/x", "").0, 400);
    assert_eq!(server.get("/healthz").0, 200);
    server.stop();
    let server = Server::start(&data, &["--no-train-schedule"]);
    let (_, body) = server.get("/v1/admin/jobs");
    let states: Vec<&str> = body["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["state"].as_str())
        .collect();
    assert_eq!(states, ["cancelled", "memory_exceeded"], "{body}");
    server.stop();
}
