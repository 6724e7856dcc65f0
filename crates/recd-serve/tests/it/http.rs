//! Requests through the whole Router (no network): bad input gets a 4xx JSON body naming the
//! field, and nothing of a refused request is written.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use recd_serve::ServeConfig;
use serde_json::json;

use crate::support::{check_error, server};

#[tokio::test]
async fn events_are_accepted_as_object_array_or_ndjson() {
    let s = server(ServeConfig::default());
    let (status, body) = s
        .post_events(r#"{"user_id":"u1","item_id":"i1","type":"view"}"#)
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::ACCEPTED,
            json!({"accepted": 1, "first_offset": 0, "duplicates": 0})
        )
    );
    let array = json!([
        {"user_id":"u1","item_id":"i2","type":"click","timestamp": 1_700_000_000_000i64},
        {"user_id":"u2","type":"search","query":"lamps","context":{"device":"tv","extra":{"ab":"b"}}}
    ]);
    let (status, body) = s.post_events(array.to_string()).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::ACCEPTED,
            json!({"accepted": 2, "first_offset": 1, "duplicates": 0})
        )
    );
    let ndjson = "{\"user_id\":\"u3\",\"item_id\":\"i1\",\"type\":\"rating\",\"value\":4.5}\n{\"user_id\":\"u3\",\"item_id\":\"i1\",\"type\":\"like\"}\n";
    let (status, body) = s.post_events(ndjson).await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (StatusCode::ACCEPTED, json!(2))
    );
    assert_eq!(s.log_len(), 5);
    assert_eq!(
        *s.state.appended.borrow(),
        5,
        "the updater is woken with the new end"
    );
}

#[tokio::test]
async fn bad_events_get_400_naming_index_and_field_and_nothing_is_written() {
    let s = server(ServeConfig::default());
    let ok = json!({"user_id":"u1","item_id":"i1","type":"view"});
    let cases = [
        (
            json!([ok, {"user_id":"u1","item_id":"i1","type":"watch"}]),
            "type",
            1,
        ),
        (
            json!([ok, ok, {"item_id":"i1","type":"view"}]),
            "user_id",
            2,
        ),
        (json!([{"user_id":"u1","type":"view"}]), "item_id", 0),
        (
            json!([ok, {"user_id":"u1","item_id":"i1","type":"rating","value":9}]),
            "value",
            1,
        ),
        (
            json!([{"user_id":"u1","item_id":"i1","type":"view","colour":"red"}]),
            "colour",
            0,
        ),
        (
            json!([ok, {"user_id":"u1","item_id":"i1","type":"view","context":{"page":7}}]),
            "context.page",
            1,
        ),
        (
            json!([{"user_id":"u1","item_id":"i1","type":"view","timestamp":1_700_000_000_000_000i64}]),
            "timestamp",
            0,
        ),
        (
            json!([{"user_id":" u1","item_id":"i1","type":"view"}]),
            "user_id",
            0,
        ),
    ];
    for (body, field, index) in cases {
        let got = s.post_events(body.to_string()).await;
        check_error(
            got,
            StatusCode::BAD_REQUEST,
            "invalid_field",
            Some(field),
            Some(index),
        );
    }
    check_error(
        s.post_events("{\"user_id\": ").await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
        None,
        Some(0),
    );
    check_error(
        s.post_events("[{\"user_id\": 1,]").await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
        None,
        None,
    );
    check_error(
        s.post_events(" \n").await,
        StatusCode::BAD_REQUEST,
        "empty_body",
        None,
        None,
    );
    assert_eq!(s.log_len(), 0, "no refused request wrote anything");
}

#[tokio::test]
async fn oversized_bodies_and_batches_get_413() {
    let s = server(ServeConfig {
        max_body_bytes: 1000,
        max_events_per_request: 3,
        ..ServeConfig::default()
    });
    let big = format!(
        r#"{{"user_id":"u1","item_id":"i1","type":"search","query":"{}"}}"#,
        "x".repeat(2000)
    );
    check_error(
        s.post_events(big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        None,
        None,
    );
    let four = "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"view\"}\n".repeat(4);
    check_error(
        s.post_events(four).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_events",
        None,
        None,
    );
    assert_eq!(s.log_len(), 0);
}

#[tokio::test]
async fn items_are_upserted_and_deleted_by_marking_them_unavailable() {
    let s = server(ServeConfig::default());
    let item = json!({"title":"Lamp","category":"home","tags":["light"],"price":12.5});
    let (status, body) = s.call(Method::PUT, "/v1/items/i1", item.to_string()).await;
    assert_eq!(
        (status, body["available"].clone()),
        (StatusCode::OK, json!(true))
    );
    let (status, body) = s.call(Method::DELETE, "/v1/items/i1", Body::empty()).await;
    assert_eq!(
        (status, body["available"].clone(), body["category"].clone()),
        (StatusCode::OK, json!(false), json!("home"))
    );
    let stored = s.state.store.catalog().get_item("i1").unwrap().unwrap();
    assert!(!stored.available);
    assert_eq!(s.log_len(), 2, "both changes are in the log");

    check_error(
        s.call(Method::DELETE, "/v1/items/nope", Body::empty())
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
        None,
    );
    let bad = s
        .call(
            Method::PUT,
            "/v1/items/i2",
            json!({"title":"x","price":-1}).to_string(),
        )
        .await;
    check_error(
        bad,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("price"),
        None,
    );
    let bad = s
        .call(
            Method::PUT,
            "/v1/items/i2",
            json!({"id":"i3","title":"x"}).to_string(),
        )
        .await;
    check_error(
        bad,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("id"),
        None,
    );
    let bad = s
        .call(
            Method::PUT,
            "/v1/items/i2",
            json!({"category":"x"}).to_string(),
        )
        .await;
    check_error(
        bad,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("title"),
        None,
    );
}

#[tokio::test]
async fn users_are_upserted_with_checked_fields() {
    let s = server(ServeConfig::default());
    let user = json!({"age": 31, "gender": "F", "interests": ["jazz"]});
    let (status, body) = s.call(Method::PUT, "/v1/users/u1", user.to_string()).await;
    assert_eq!(
        (status, body["gender"].clone()),
        (StatusCode::OK, json!("female"))
    );
    assert_eq!(
        s.state
            .store
            .catalog()
            .get_user("u1")
            .unwrap()
            .unwrap()
            .interests,
        ["jazz"]
    );
    let bad = s
        .call(
            Method::PUT,
            "/v1/users/u1",
            json!({"gender": "q"}).to_string(),
        )
        .await;
    check_error(
        bad,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("gender"),
        None,
    );
    let bad = s
        .call(Method::PUT, "/v1/users/u1", json!({"age": 300}).to_string())
        .await;
    check_error(
        bad,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("age"),
        None,
    );
}

#[tokio::test]
async fn reads_health_and_metrics() {
    let s = server(ServeConfig::default());
    check_error(
        s.call(Method::GET, "/v1/users/u9/features", Body::empty())
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
        None,
    );
    let bad = s
        .call(Method::GET, "/v1/trending?window=2h", Body::empty())
        .await;
    check_error(
        bad,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("window"),
        None,
    );
    let (status, body) = s
        .call(Method::GET, "/v1/trending?window=24h", Body::empty())
        .await;
    assert_eq!((status, body["items"].clone()), (StatusCode::OK, json!([])));

    assert_eq!(
        s.call(Method::GET, "/healthz", Body::empty()).await.0,
        StatusCode::OK
    );
    let (status, body) = s.call(Method::GET, "/readyz", Body::empty()).await;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("starting"))
    );
    s.applied_tx.send_replace(Some(0));
    // Caught up: ready after `ready_checks` (default 2) consecutive checks within the lag.
    let (status, body) = s.call(Method::GET, "/readyz", Body::empty()).await;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("starting"))
    );
    let (status, body) = s.call(Method::GET, "/readyz", Body::empty()).await;
    assert_eq!(
        (status, body["feature_store"].clone()),
        (StatusCode::OK, json!("embedded"))
    );

    let (status, text) = s.call(Method::GET, "/metrics", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.as_str().unwrap().contains("recd_http_requests_total"),
        "{text}"
    );
}
