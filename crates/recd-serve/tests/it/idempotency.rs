//! Idempotent ingest: a retried event (by `event_id`) or batch (by `Idempotency-Key`) is
//! appended once and answered with the first attempt's offsets.

use axum::http::StatusCode;
use recd_serve::ServeConfig;
use serde_json::{Value, json};

use crate::support::{check_error, server};

fn view(user: &str, event_id: Option<&str>) -> Value {
    let mut e = json!({"user_id": user, "item_id": "i1", "type": "view", "timestamp": 1_700_000_000_000_i64});
    if let Some(id) = event_id {
        e["event_id"] = json!(id);
    }
    e
}

#[tokio::test]
async fn a_batch_with_event_ids_posted_twice_is_appended_once() {
    let s = server(ServeConfig::default());
    let batch = json!([view("u1", Some("e1")), view("u2", Some("e2"))]).to_string();
    let (status, first) = s.post_events(batch.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(
        first,
        json!({"accepted": 2, "first_offset": 0, "duplicates": 0})
    );
    assert_eq!(s.log_len(), 2);

    let (status, again) = s.post_events(batch).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(
        again,
        json!({"accepted": 2, "first_offset": 0, "duplicates": 2,
               "duplicate_indexes": [0, 1], "offsets": [0, 1]})
    );
    assert_eq!(s.log_len(), 2, "the log did not grow");

    // A new event beside an old one: only the new one is appended.
    let mixed = json!([
        view("u3", None),
        view("u1", Some("e1")),
        view("u3", Some("e3"))
    ]);
    let (status, body) = s.post_events(mixed.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        body,
        json!({"accepted": 3, "first_offset": 2, "duplicates": 1,
               "duplicate_indexes": [1], "offsets": [2, 0, 3]})
    );
    assert_eq!(s.log_len(), 4);
}

#[tokio::test]
async fn a_batch_retried_with_its_idempotency_key_is_appended_once() {
    let s = server(ServeConfig::default());
    let batch = json!([view("u1", None), view("u2", None)]).to_string();
    let key = [("Idempotency-Key", "batch-7")];
    let (status, first) = s.post_events_with(&key, batch.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, again) = s.post_events_with(&key, batch.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["duplicates"], 2);
    assert_eq!(again["offsets"], json!([0, 1]));
    assert_eq!(s.log_len(), 2);
    // Another key is another batch.
    let (_, other) = s
        .post_events_with(&[("Idempotency-Key", "batch-8")], batch)
        .await;
    assert_eq!(other["duplicates"], 0);
    assert_eq!(s.log_len(), 4);
    // The key is in the log, as each event's id.
    let ids: Vec<Option<String>> = s
        .state
        .store
        .log()
        .read_from(0)
        .unwrap()
        .map(|r| match r.unwrap().1 {
            recd_types::Record::Event(e) => e.event_id,
            _ => None,
        })
        .collect();
    let want = ["batch-7#0", "batch-7#1", "batch-8#0", "batch-8#1"];
    assert_eq!(ids, want.map(|s| Some(s.to_string())));
}

#[tokio::test]
async fn bad_ids_and_keys_are_refused_naming_them() {
    let s = server(ServeConfig::default());
    let twice = json!([view("u1", Some("e1")), view("u2", Some("e1"))]).to_string();
    check_error(
        s.post_events(twice).await,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("event_id"),
        Some(1),
    );
    let control = json!([view("u1", Some("a\u{1}b"))]).to_string();
    check_error(
        s.post_events(control).await,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("event_id"),
        Some(0),
    );
    let long = "k".repeat(201);
    for key in [" k", long.as_str(), "", "a/b", ".."] {
        let got = s
            .post_events_with(&[("Idempotency-Key", key)], view("u1", None).to_string())
            .await;
        check_error(
            got,
            StatusCode::BAD_REQUEST,
            "invalid_field",
            Some("Idempotency-Key"),
            None,
        );
    }
    assert_eq!(s.log_len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_of_one_batch_append_it_once() {
    let s = std::sync::Arc::new(server(ServeConfig::default()));
    let batch: Vec<Value> = (0..50)
        .map(|i| view("u1", Some(&format!("c{i}"))))
        .collect();
    let body = Value::Array(batch).to_string();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (s, body) = (s.clone(), body.clone());
            tokio::spawn(async move { s.post_events(body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        answers.push(body);
    }
    assert_eq!(s.log_len(), 50);
    let fresh: Vec<&Value> = answers.iter().filter(|a| a["duplicates"] == 0).collect();
    assert_eq!(fresh.len(), 1, "{answers:?}");
    let offsets: Vec<u64> = (0..50).collect();
    for a in answers.iter().filter(|a| a["duplicates"] == 50) {
        assert_eq!(a["offsets"], json!(offsets));
    }
}
