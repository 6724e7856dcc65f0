//! Bot filtering at ingest: a user posting far faster than a person gets the events past the
//! ceiling flagged — acknowledged and kept, counted, and left out of trending.

use serde_json::{Value, json};

use crate::util::Server;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn count_of(trending: &Value, item: &str) -> Option<u64> {
    trending["items"]
        .as_array()?
        .iter()
        .find(|t| t["item_id"] == item)
        .and_then(|t| t["count"].as_u64())
}

#[test]
fn a_bots_burst_is_kept_but_does_not_make_an_item_trend() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = Server::start(&tmp.path().join("data"), &[]);
    let t0 = now_ms();
    // 2,000 views of one item by one user within two seconds: past the default 600/min.
    let burst: Vec<Value> = (0..2000)
        .map(
            |i| json!({"user_id": "bot", "item_id": "pumped", "type": "view", "timestamp": t0 + i}),
        )
        .collect();
    let (status, body) = server.request("POST", "/v1/events", &Value::Array(burst).to_string());
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body["accepted"], 2000,
        "every event is acknowledged and kept"
    );
    // People viewing another item at a person's pace.
    let people: Vec<Value> = (0..50)
        .map(|i| json!({"user_id": format!("p{i}"), "item_id": "liked", "type": "view", "timestamp": t0 + i}))
        .collect();
    assert_eq!(
        server
            .request("POST", "/v1/events", &Value::Array(people).to_string())
            .0,
        202
    );
    let mut trending = Value::Null;
    server.wait_until(
        || {
            trending = server.get("/v1/trending?limit=10").1;
            count_of(&trending, "liked") == Some(50)
        },
        "the people's views trending",
    );
    // The ceiling lets through one minute's allowance (600) plus the rate over the burst's
    // two seconds (600/min = 10/s): at most 620 of the 2,000.
    let pumped = count_of(&trending, "pumped").unwrap_or(0);
    assert!(pumped <= 620, "the bot's flagged views counted: {trending}");
    assert!(
        pumped > 0,
        "the allowance before the ceiling counts: {trending}"
    );
    let metrics = server.get_text("/metrics");
    let flagged = metrics
        .lines()
        .find(|l| l.starts_with("recd_events_flagged_total{reason=\"rate\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(flagged >= 1380.0, "{flagged}");
    server.stop();
}
