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
    // Other routes do not care where a request comes from.
    assert_eq!(
        from(Some("10.1.2.3:5000"), Method::GET, "/healthz").await.0,
        StatusCode::OK
    );
}
