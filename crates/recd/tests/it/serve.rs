//! End-to-end tests of `recd serve` with the real binary on a free port: the speed layer's
//! must-show (three views of a new user come back newest first, and survive a restart), with
//! the embedded feature store and with a real redis-server.

use recd_features::testing::RedisServer;
use serde_json::{Value, json};

use crate::util::{Server, arg};

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

/// The speed layer's must-show, against whichever feature store `extra` selects.
fn three_views_come_back_newest_first_and_survive_a_restart(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let serve = Server::start(dir.path(), extra);
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

    let serve = Server::start(dir.path(), extra);
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
    let serve = Server::start(&data, &["--config", arg(&config)]);
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
