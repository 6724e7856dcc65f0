//! Input that used to be accepted and must not be: other media types and content codings,
//! repeated JSON keys and query parameters, malformed escapes, ids that look like paths,
//! timestamps in seconds or far in the future.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use recd_serve::ServeConfig;

use crate::support::server;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn bodies_must_be_json_and_uncompressed() {
    let s = server(ServeConfig::default());
    let event = r#"{"user_id":"u","item_id":"i","type":"view"}"#;
    let post = |headers: &'static [(&'static str, &'static str)]| {
        s.send(Method::POST, "/v1/events", headers, event)
    };
    let (status, _, body) = post(&[("content-type", "text/plain")]).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(code(&body), "unsupported_media_type");
    let (status, _, body) = post(&[("content-type", "application/x-www-form-urlencoded")]).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (status, _, body) = post(&[("content-encoding", "gzip")]).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("gzip"));
    for ok in [
        &[][..],
        &[("content-type", "application/json; charset=utf-8")][..],
        &[("content-type", "application/x-ndjson")][..],
    ] {
        let (status, _, body) = s.send(Method::POST, "/v1/events", ok, event).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{ok:?}: {body}");
    }
    let (status, _, body) = s
        .send(
            Method::PUT,
            "/v1/items/x",
            &[("content-type", "text/csv")],
            "a,b",
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
}

#[tokio::test]
async fn a_key_given_twice_is_refused_naming_it() {
    let s = server(ServeConfig::default());
    let before = s.log_len();
    let twice = r#"{"user_id":"alice","item_id":"i","type":"view","user_id":"mallory"}"#;
    let (status, body) = s.post_events(twice).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&body), "invalid_json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"user_id\""),
        "{body}"
    );
    let nested = format!("[{twice}]");
    assert_eq!(s.post_events(nested).await.0, StatusCode::BAD_REQUEST);
    let (status, body) = s
        .call(Method::PUT, "/v1/items/x", r#"{"title":"a","title":"b"}"#)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(s.log_len(), before, "nothing was written");
}

#[tokio::test]
async fn query_strings_and_paths_are_decoded_strictly() {
    let s = server(ServeConfig::default());
    let (status, body) = s.get("/v1/recommendations?user_id=a&user_id=b").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "user_id");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than once")
    );
    for lossy in [
        "/v1/recommendations?user_id=%FF",
        "/v1/recommendations?user_id=%zz",
    ] {
        let (status, body) = s.get(lossy).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{lossy}: {body}");
        assert_eq!(body["error"]["field"], "user_id", "{body}");
    }
    let (status, body) = s.get("/v1/items/a%zz").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn ids_that_look_like_paths_are_refused() {
    let s = server(ServeConfig::default());
    let item = r#"{"title":"Top secret"}"#;
    for path in [
        "/v1/items/..%2F..%2Fetc%2Fpasswd",
        "/v1/items/..",
        "/v1/items/a%5Cb",
        "/v1/items/x%E2%80%AEgpj",
    ] {
        let (status, body) = s.call(Method::PUT, path, item).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["field"], "item_id", "{path}: {body}");
    }
    let event = r#"{"user_id":"u","item_id":"../../etc/passwd","type":"view"}"#;
    let (status, body) = s.post_events(event).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "item_id");
}

#[tokio::test]
async fn timestamps_in_seconds_or_far_ahead_are_refused() {
    let s = server(ServeConfig::default());
    let event =
        |t: i64| format!(r#"{{"user_id":"u","item_id":"i","type":"view","timestamp":{t}}}"#);
    let (status, body) = s.post_events(event(1_700_000_000)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "timestamp");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1700000000000"),
        "{body}"
    );
    let (status, body) = s.post_events(event(now_ms() + 2 * 3_600_000)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_future_skew_secs")
    );
    // 1997 (MovieLens) and a few minutes ahead are fine.
    assert_eq!(
        s.post_events(event(874_965_758_000)).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        s.post_events(event(now_ms() + 60_000)).await.0,
        StatusCode::ACCEPTED
    );
    // The check can be turned off.
    let open = server(ServeConfig {
        max_future_skew_secs: 0,
        ..Default::default()
    });
    let (status, body) = open.post_events(event(now_ms() + 2 * 3_600_000)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}
