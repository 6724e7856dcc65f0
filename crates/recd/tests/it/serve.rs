//! End-to-end tests of `recd serve` with the real binary on a free port: the issue's
//! must-show (three views of a new user come back newest first, and survive a restart), with
//! the embedded feature store and with a real redis-server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use recd_features::testing::RedisServer;
use serde_json::{Value, json};

use crate::util::arg;

/// A running `recd serve`, stopped with SIGTERM on drop if the test did not stop it.
struct Serve {
    child: Child,
    addr: String,
}

impl Serve {
    fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_recd"))
            .args([
                "serve",
                "--data-dir",
                arg(data_dir),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("recd serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let serve = Self { child, addr };
        serve.wait_until(|| serve.get("/readyz").0 == 200, "ready");
        serve
    }

    /// One HTTP/1.1 request on a fresh connection; returns status and JSON body.
    fn request(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read response");
        let status = response[9..12].parse().expect("status code");
        let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.request("GET", path, "")
    }

    fn wait_until(&self, mut ok: impl FnMut() -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ok() {
            assert!(Instant::now() < deadline, "not {what} within 20 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then the exit status must be success (graceful shutdown).
    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let exit = self.child.wait().expect("wait for recd serve");
        assert!(exit.success(), "recd serve exited with {exit}");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn views(features: &Value) -> Vec<String> {
    features["recent_views"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|x| x["item_id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The issue's must-show, against whichever feature store `extra` selects.
fn three_views_come_back_newest_first_and_survive_a_restart(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(dir.path(), extra);
    assert_eq!(serve.get("/v1/users/newbie/features").0, 404);
    for item in ["m1", "m2", "m3"] {
        let event = json!({"user_id": "newbie", "item_id": item, "type": "view"});
        let (status, body) = serve.request("POST", "/v1/events", &event.to_string());
        assert_eq!(
            (status, body["accepted"].clone()),
            (202, json!(1)),
            "{body}"
        );
    }
    let mut features = Value::Null;
    serve.wait_until(
        || {
            features = serve.get("/v1/users/newbie/features").1;
            views(&features).len() == 3
        },
        "showing three views",
    );
    assert_eq!(views(&features), ["m3", "m2", "m1"], "{features}");
    assert_eq!(features["counts"], json!({"view": 3}));
    serve.stop();

    let serve = Serve::start(dir.path(), extra);
    let (status, after) = serve.get("/v1/users/newbie/features");
    assert_eq!(status, 200, "{after}");
    assert_eq!(after, features, "features are the same after the restart");
    let (status, metrics) = (
        serve.get("/healthz").0,
        serve.request("GET", "/metrics", "").0,
    );
    assert_eq!((status, metrics), (200, 200));
    serve.stop();
}

#[test]
fn must_show_with_the_embedded_feature_store() {
    three_views_come_back_newest_first_and_survive_a_restart(&[]);
}

#[test]
fn must_show_with_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    three_views_come_back_newest_first_and_survive_a_restart(&["--feature-store", &url]);
}

#[test]
fn bad_input_over_the_wire_gets_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("recd.toml");
    std::fs::write(&config, "[serve]\nmax_body_bytes = 1000\n").unwrap();
    let data = dir.path().join("data");
    let serve = Serve::start(&data, &["--config", arg(&config)]);
    let batch = r#"[{"user_id":"u","item_id":"i","type":"view"},{"user_id":"u","type":"watch"}]"#;
    let (status, body) = serve.request("POST", "/v1/events", batch);
    let error = &body["error"];
    assert_eq!(
        (status, &error["field"], &error["index"]),
        (400, &json!("type"), &json!(1)),
        "{body}"
    );
    let (status, body) = serve.request("POST", "/v1/events", "{\"user_id\": ");
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_json")),
        "{body}"
    );
    let big = format!(
        r#"{{"user_id":"u","type":"search","query":"{}"}}"#,
        "x".repeat(2000)
    );
    let (status, body) = serve.request("POST", "/v1/events", &big);
    assert_eq!(
        (status, &body["error"]["code"]),
        (413, &json!("payload_too_large")),
        "{body}"
    );
    let (_, health) = serve.get("/healthz");
    assert_eq!(
        health["log_end_offset"],
        json!(0),
        "nothing of the refused requests was written"
    );
    serve.stop();
}
