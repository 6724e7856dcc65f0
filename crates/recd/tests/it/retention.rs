//! Retention in the live system: with `recd serve` owning a data dir, taking events and
//! answering (so recording impressions), its schedule deletes old event segments, and
//! `recd log compact --server` deletes old impression segments, while no request fails, no
//! acknowledged event is lost, and readers in other processes keep working.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::util::{Server, arg, recd_err, recd_ok};

/// Small segments, so a small data dir spans many.
const SEGMENT_BYTES: (&str, &str) = ("RECD__STORE__SEGMENT_BYTES", "65536");

fn metric(server: &Server, sample: &str) -> f64 {
    let text = server.get_text("/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {sample} in:\n{text}"))
}

#[test]
fn old_segments_go_while_the_server_serves_and_nothing_acknowledged_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = arg(&data);
    // The generated history ends in 2024: every closed segment is older than a day.
    let status = Command::new(env!("CARGO_BIN_EXE_recd"))
        .args([
            "gen", "--users", "300", "--items", "200", "--events", "20000",
        ])
        .args(["--seed", "1", "--data-dir", d])
        .env(SEGMENT_BYTES.0, SEGMENT_BYTES.1)
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(status.success());
    recd_ok(&["train", "--data-dir", d, "--all"]);

    let server = Arc::new(Server::spawn(
        &["serve", "--data-dir", d, "--listen", "127.0.0.1:0"],
        &[
            SEGMENT_BYTES,
            ("RECD__STORE__RETENTION__CHECK_EVERY_SECS", "1"),
            ("RECD__STORE__RETENTION__EVENTS_OLDER_THAN_DAYS", "1"),
            ("RECD__STORE__RETENTION__EVENTS_DISCARD_UNEXPORTED", "true"),
        ],
    ));
    let stop = Arc::new(AtomicBool::new(false));
    // Steady ingest and answers from other threads: every one must succeed.
    let ingest = {
        let (server, stop) = (server.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) || n < 50 {
                let user = format!("live-{n}");
                let event =
                    json!({"user_id": user, "item_id": format!("i{}", n % 50), "type": "click"});
                let (status, body) = server.request("POST", "/v1/events", &event.to_string());
                assert_eq!(status, 202, "event {n} failed: {body}");
                acked.push(user);
                n += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            acked
        })
    };
    let answers = {
        let (server, stop) = (server.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) || n < 400 {
                let path = format!("/v1/recommendations?user_id=u{}&num_results=20", n % 300);
                let (status, body) = server.get(&path);
                assert_eq!(status, 200, "answer {n} failed: {body}");
                n += 1;
            }
            n
        })
    };

    // The schedule deletes the old event segments within a few seconds.
    server.wait_until(
        || metric(&server, "recd_log_start_offset{log=\"events\"}") > 0.0,
        "the schedule compacted the event log",
    );
    let start = metric(&server, "recd_log_start_offset{log=\"events\"}") as u64;
    // Readers in other processes, beside the writer and the compaction.
    let tail = recd_ok(&["events", "tail", "--data-dir", d, "-n", "3"]);
    assert_eq!(tail.lines().count(), 3, "{tail}");
    let lake = tmp.path().join("lake");
    recd_ok(&["export", "--data-dir", d, "--out", arg(&lake)]);

    // The owner's lock: a local compaction says to go through the server.
    let err = recd_err(&[
        "log",
        "compact",
        "--data-dir",
        d,
        "--older-than",
        "1d",
        "--discard-unexported",
    ]);
    assert!(err.contains("--server"), "{err}");

    // Impressions: they are from now, so they go with a short age, through the server.
    let url = format!("http://{}", server.addr);
    server.wait_until(
        || {
            let answered = metric(&server, "recd_impressions_written_total");
            answered >= 400.0
        },
        "400 impressions written",
    );
    std::thread::sleep(Duration::from_millis(1100));
    let before = metric(&server, "recd_log_size_bytes{log=\"impressions\"}");
    let out = recd_ok(&[
        "log",
        "compact",
        "--server",
        &url,
        "--impressions",
        "--older-than",
        "1s",
    ]);
    assert!(out.contains("of the impressions log"), "{out}");
    assert!(!out.contains("deleted 0 segments"), "{out}");
    assert!(
        metric(&server, "recd_log_size_bytes{log=\"impressions\"}") < before,
        "{out}"
    );
    assert!(metric(&server, "recd_log_start_offset{log=\"impressions\"}") > 0.0);
    let tail = recd_ok(&[
        "events",
        "tail",
        "--data-dir",
        d,
        "--impressions",
        "-n",
        "2",
    ]);
    assert_eq!(tail.lines().count(), 2, "{tail}");
    // Rules the route names by field.
    let (status, body) =
        server.request("POST", "/v1/admin/log/compact", r#"{"older_than_secs": 1}"#);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "exported_to", "{body}");
    let (status, body) = server.request(
        "POST",
        "/v1/admin/log/compact",
        r#"{"log": "impressions", "older_than_secs": 1, "exported_to": "/tmp"}"#,
    );
    assert_eq!(status, 400, "{body}");

    stop.store(true, Ordering::Relaxed);
    let acked = ingest.join().unwrap();
    assert!(answers.join().unwrap() >= 400);
    Arc::try_unwrap(server).ok().expect("one owner").stop();

    // Every acknowledged event is in the log, after the compacted prefix; the log verifies,
    // and a restarted server opens it and answers.
    let verify = recd_ok(&["log", "verify", "--data-dir", d]);
    assert!(verify.contains("0 damaged ranges"), "{verify}");
    assert!(
        verify.contains(&format!("offset {start}")) || verify.contains("were compacted"),
        "{verify}"
    );
    let tail = recd_ok(&["events", "tail", "--data-dir", d, "-n", "100000"]);
    for user in &acked {
        assert!(
            tail.contains(&format!("user={user}\t")) || tail.contains(&format!("user={user} ")),
            "acknowledged event of {user} missing"
        );
    }
    let server = Server::start(&data, &[]);
    let (status, body) = server.get("/v1/recommendations?user_id=u1&num_results=5");
    assert_eq!(status, 200, "{body}");
    server.stop();
}
