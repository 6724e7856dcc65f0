//! The batch layer beside the speed layer: with `recd serve` owning a data dir and taking
//! events, `recd train`, `recd export` and `recd events tail` run against the same dir in
//! other processes, the server picks up the new model, and no request fails and no
//! acknowledged event is lost meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{Server, arg, recd_ok, small_data};

fn served_version(server: &Server) -> String {
    let (status, body) = server.get("/v1/recommendations?user_id=u1&num_results=5");
    assert_eq!(status, 200, "{body}");
    body["model_version"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn train_export_and_tail_run_beside_a_live_server() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    small_data(&data, true);
    let server = Arc::new(Server::start(&data, &[]));
    let first = served_version(&server);
    assert!(!first.is_empty());

    // Steady ingest from another thread: every answer must be a 202.
    let stop = Arc::new(AtomicBool::new(false));
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

    // `--all`: the generated history ends in 2024 and the live events are from today, so the
    // 30-day window would keep only the live ones.
    let out = recd_ok(&["train", "--data-dir", arg(&data), "--force", "--all"]);
    let trained_at = Instant::now();
    let version = out
        .lines()
        .find_map(|l| l.strip_prefix("model "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the version trained")
        .to_string();
    assert_ne!(version, first);
    server.wait_until(
        || served_version(&server) == version,
        "serving the new model",
    );
    eprintln!(
        "the server swapped to {version} {:.2} s after training ended",
        trained_at.elapsed().as_secs_f64()
    );

    let tail = recd_ok(&[
        "events",
        "tail",
        "--data-dir",
        arg(&data),
        "-n",
        "3",
        "--json",
    ]);
    let lines: Vec<Value> = tail
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 3, "{tail}");
    let offsets: Vec<u64> = lines
        .iter()
        .map(|l| l["offset"].as_u64().expect("offset"))
        .collect();
    assert!(offsets.windows(2).all(|w| w[1] == w[0] + 1), "{offsets:?}");

    let lake = tmp.path().join("lake");
    let exported = recd_ok(&["export", "--data-dir", arg(&data), "--out", arg(&lake)]);
    assert!(exported.starts_with("exported "), "{exported}");

    stop.store(true, Ordering::Relaxed);
    let acked = ingest.join().expect("no ingest request failed");
    // Every acknowledged event is in the log, read beside the server.
    let tail = recd_ok(&[
        "events",
        "tail",
        "--data-dir",
        arg(&data),
        "-n",
        &(acked.len() + 10).to_string(),
        "--json",
    ]);
    for user in &acked {
        assert!(
            tail.contains(&format!("\"user_id\":\"{user}\"")),
            "{user} is missing"
        );
    }
    // Events taken during training are in the next training's data: it reads to the end.
    let again = recd_ok(&["train", "--data-dir", arg(&data), "--force", "--all"]);
    assert!(again.contains("model "), "{again}");
    match Arc::try_unwrap(server) {
        Ok(server) => server.stop(),
        Err(_) => panic!("the ingest thread still holds the server"),
    }
}

#[test]
fn a_flipped_bit_costs_one_record_and_says_so_until_repaired() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    small_data(&data, false);
    let segment = std::fs::read_dir(data.join("log"))
        .expect("log dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .expect("a segment");
    let mut bytes = std::fs::read(&segment).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&segment, &bytes).expect("write");

    let server = Server::start(&data, &[]);
    let (status, ready) = server.get("/readyz");
    assert_eq!(
        status, 200,
        "one flipped bit must not take the instance out: {ready}"
    );
    assert_eq!(ready["dependencies"]["log"]["up"], json!(false), "{ready}");
    assert_eq!(
        ready["dependencies"]["log"]["lost_records"],
        json!(1),
        "{ready}"
    );
    assert_eq!(server.get("/readyz?strict=true").0, 503);
    let metrics = server.get_text("/metrics");
    assert!(metrics.contains("recd_log_lost_records 1"), "{metrics}");
    // Verify runs beside the server, read-only, and fails.
    let verify = crate::util::recd(&["log", "verify", "--data-dir", arg(&data)]);
    assert!(!verify.status.success());
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(out.contains("1 records lost"), "{out}");
    // Repair needs the server stopped.
    assert!(
        !crate::util::recd(&["log", "repair", "--data-dir", arg(&data)])
            .status
            .success()
    );
    server.stop();
    let repaired = recd_ok(&["log", "repair", "--data-dir", arg(&data)]);
    assert!(repaired.contains("rewrote 1 segments"), "{repaired}");
    let verified = recd_ok(&["log", "verify", "--data-dir", arg(&data)]);
    assert!(verified.contains("0 damaged ranges"), "{verified}");
    let server = Server::start(&data, &[]);
    let (_, ready) = server.get("/readyz?strict=true");
    assert_eq!(ready["dependencies"]["log"]["up"], json!(true), "{ready}");
    server.stop();
}
