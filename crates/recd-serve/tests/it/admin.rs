//! The admin guard: `/v1/admin/*` answers only to loopback peers until API keys exist.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use recd_serve::{ServeConfig, app};
use serde_json::Value;
use tower::ServiceExt;

use crate::support::{check_error, server};

async fn from(peer: Option<&str>, method: Method, uri: &str) -> (StatusCode, Value) {
    let server = server(ServeConfig::default());
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    if let Some(peer) = peer {
        let addr: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(addr));
    }
    let response = app(server.state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn admin_routes_refuse_every_peer_but_loopback() {
    for (method, uri) in [
        (Method::POST, "/v1/admin/train"),
        (Method::GET, "/v1/admin/jobs"),
        (Method::DELETE, "/v1/admin/jobs/1"),
    ] {
        for peer in [None, Some("10.1.2.3:5000"), Some("[2001:db8::1]:80")] {
            let got = from(peer, method.clone(), uri).await;
            check_error(got, StatusCode::FORBIDDEN, "forbidden", None, None);
        }
        // Loopback gets through to the handler (this test server runs no jobs: 503).
        for peer in ["127.0.0.1:5000", "[::1]:5000"] {
            let (status, body) = from(Some(peer), method.clone(), uri).await;
            assert_eq!(
                status,
                StatusCode::SERVICE_UNAVAILABLE,
                "{uri} from {peer}: {body}"
            );
        }
    }
    // Deleting a user's data is an admin route.
    for peer in [None, Some("10.1.2.3:5000")] {
        let got = from(peer, Method::DELETE, "/v1/users/u1").await;
        check_error(got, StatusCode::FORBIDDEN, "forbidden", None, None);
    }
    let (status, body) = from(Some("127.0.0.1:5000"), Method::DELETE, "/v1/users/nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Other routes do not care where a request comes from.
    assert_eq!(
        from(Some("10.1.2.3:5000"), Method::GET, "/healthz").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn deleting_a_user_removes_profile_and_features_and_logs_a_tombstone() {
    use recd_features::{Batch, LoggedEvent};
    use recd_types::{Event, EventKind, ItemId, Record, UserId};

    let s = server(ServeConfig::default());
    let (status, body) = s
        .call(Method::PUT, "/v1/users/u1", r#"{"country": "fr"}"#)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let u1 = UserId::parse("u1").unwrap();
    let view = Event::new(
        u1.clone(),
        Some(ItemId::parse("i").unwrap()),
        EventKind::View,
        1,
    );
    let batch = Batch {
        first_offset: 0,
        events: vec![LoggedEvent {
            offset: 0,
            event: view,
            category: None,
        }],
        next_offset: 1,
        now_ms: 2,
    };
    s.state.features.apply(&batch, None).await.unwrap();
    assert!(s.state.features.user(&u1, 2).await.unwrap().is_some());

    let mut request = Request::builder()
        .method(Method::DELETE)
        .uri("/v1/users/u1")
        .body(Body::empty())
        .unwrap();
    let loopback: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(loopback));
    let response = app(s.state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    check_error(
        s.get("/v1/users/u1").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
        None,
    );
    assert_eq!(s.state.features.user(&u1, 2).await.unwrap(), None);
    let end = s.log_len();
    let (offset, last) = s
        .state
        .store
        .log()
        .read_from(end - 1)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(offset, end - 1);
    assert!(matches!(last, Record::UserDeleted { user, .. } if user == u1));
}
