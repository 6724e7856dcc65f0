//! The updater role's own small HTTP listener (`recd stream --listen`): `GET /metrics` for
//! Prometheus and `GET /healthz` (or `/readyz`: which partitions this process applies). No
//! API: the role takes no requests, it only reports.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What the listener reports.
pub struct Report {
    /// Renders the Prometheus text (empty without a recorder).
    pub render: Box<dyn Fn() -> String + Send + Sync>,
    /// This process's owner name in the leases.
    pub owner: String,
    /// The partitions it applies now.
    pub owned: watch::Receiver<Vec<u32>>,
    /// The bus's partition count.
    pub partitions: u32,
}

/// Answers on `listener` until the task is dropped or aborted.
pub async fn serve(listener: TcpListener, report: Arc<Report>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "metrics listener: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let report = report.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let report = report.clone();
                async move { Ok::<_, Infallible>(answer(&req, &report)) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "metrics listener: connection ended");
            }
        });
    }
}

fn answer(req: &Request<Incoming>, report: &Report) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, kind: &str, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        if let Ok(kind) = kind.parse() {
            response
                .headers_mut()
                .insert(hyper::header::CONTENT_TYPE, kind);
        }
        response
    };
    let json = "application/json";
    if req.method() != hyper::Method::GET {
        let body =
            serde_json::json!({"error": {"code": "method_not_allowed", "message": "only GET"}});
        return reply(StatusCode::METHOD_NOT_ALLOWED, json, body.to_string());
    }
    match req.uri().path() {
        "/metrics" => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            (report.render)(),
        ),
        "/healthz" | "/readyz" => {
            let owned = report.owned.borrow().clone();
            let body = serde_json::json!({
                "status": "ok",
                "role": "stream",
                "owner": report.owner,
                "partitions": report.partitions,
                "partitions_owned": owned,
            });
            reply(StatusCode::OK, json, body.to_string())
        }
        path => {
            let body = serde_json::json!({"error": {"code": "not_found", "message": format!("no route {path}; try /metrics or /healthz")}});
            reply(StatusCode::NOT_FOUND, json, body.to_string())
        }
    }
}
