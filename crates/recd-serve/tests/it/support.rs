//! The test harness: the real Router over a real store in a temp dir, called without network.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use recd_features::{EmbeddedStore, FeatureConfig};
use recd_serve::{AppState, ServeConfig, app};
use recd_store::{Store, StoreConfig};
use serde_json::Value;
use tokio::sync::watch;
use tower::ServiceExt;

/// The app over its own temp data dir.
pub struct Server {
    _dir: tempfile::TempDir,
    pub state: Arc<AppState>,
    pub applied_tx: watch::Sender<Option<u64>>,
}

/// A server over an empty data dir.
pub fn server(config: ServeConfig) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
    let (appended, _) = watch::channel(0);
    let (applied_tx, features_applied) = watch::channel(None);
    let config_copy = config.clone();
    let features: Arc<dyn recd_features::FeatureStore> =
        Arc::new(EmbeddedStore::new(FeatureConfig::default()));
    let online = Arc::new(recd_online::Online::new(
        config.recommend.clone(),
        features.clone(),
        store.clone(),
    ));
    let logs = Arc::new(recd_store::retention::Logs {
        events: store.file_log().clone(),
        impressions: None,
    });
    let state = Arc::new(AppState {
        models_dir: dir.path().join("models"),
        store,
        features,
        appended,
        features_applied,
        metrics: recd_serve::install_metrics_recorder(),
        config,
        online,
        readiness: Default::default(),
        jobs: None,
        dedupe: recd_serve::dedupe::Dedupe::Local(Arc::new(recd_serve::dedupe::DedupeWindow::new(
            config_copy.dedupe_window_secs as i64 * 1000,
            config_copy.dedupe_max_entries,
        ))),
        security: Arc::new(recd_serve::auth::Security::new(&config_copy, None).unwrap()),
        bots: Arc::new(recd_serve::ingest::bots::BotFilter::new(
            config_copy.bots.clone(),
        )),
        attribution: None,
        experiments: None,
        bus: None,
        logs,
        rollout: Arc::new(recd_serve::rollout::Rollouts::off()),
        experiment_watch: Arc::new(recd_serve::experiment_watch::Watching::off()),
        fleet_tallies: None,
    });
    Server {
        _dir: dir,
        state,
        applied_tx,
    }
}

impl Server {
    /// One request; the status and the body as JSON (a JSON string when it is not JSON).
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        let (status, _, body) = self.call_with_headers(method, uri, body).await;
        (status, body)
    }

    /// [`Server::call`] with the response headers.
    pub async fn call_with_headers(
        &self,
        method: Method,
        uri: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, HeaderMap, Value) {
        self.send(method, uri, &[], body).await
    }

    /// One request with `headers`; the status, response headers and body.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(body.into()).unwrap();
        // A client on loopback, as the listener would say: without API keys, admin routes
        // (catalog writes among them) answer only there.
        let local = std::net::SocketAddr::from(([127, 0, 0, 1], 40000));
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(local));
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, headers, value)
    }

    /// `POST /v1/events` with request headers.
    pub async fn post_events_with(
        &self,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(Method::POST).uri("/v1/events");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(body.into()).unwrap();
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    /// `GET uri`.
    pub async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.call(Method::GET, uri, Body::empty()).await
    }

    /// `POST /v1/events`.
    pub async fn post_events(&self, body: impl Into<Body>) -> (StatusCode, Value) {
        self.call(Method::POST, "/v1/events", body).await
    }

    /// Records in the event log.
    pub fn log_len(&self) -> u64 {
        self.state.store.log().end_offset()
    }
}

/// Checks a 4xx body: its code, and the field and index it names.
pub fn check_error(
    got: (StatusCode, Value),
    status: StatusCode,
    code: &str,
    field: Option<&str>,
    index: Option<u64>,
) {
    let (s, body) = got;
    assert_eq!(s, status, "{body}");
    let e = &body["error"];
    assert_eq!(e["code"], code, "{body}");
    assert_eq!(e["field"].as_str(), field, "{body}");
    assert_eq!(e["index"].as_u64(), index, "{body}");
    assert!(!e["message"].as_str().unwrap().is_empty());
}
