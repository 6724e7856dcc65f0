//! recd's HTTP server: events, items and users in; features, recommendations, similar items
//! and trending lists out.
//!
//! Job: the axum [`Router`] ([`app`]), one handler module per resource in `routes/`, the one
//! exhaustive error→status mapping ([`ApiError`]) with a stable JSON body naming the field
//! (unknown routes and methods included), the OpenAPI 3.1 document of every route
//! ([`openapi`], served at `/openapi.json` and rendered at `/docs`), and [`run`] with
//! graceful shutdown. Wire shapes come from `recd-api` and are converted to
//! engine types here, at the edge. Recommendations and similar items are answered by the
//! transport-free engine (`recd-online`); the handlers validate, call it and render.
//!
//! Non-goals: no feature writes (features are read through [`FeatureStore`]; the updater in
//! `recd-stream` is their only writer, and this crate must never depend on it), no training,
//! no process setup (the `recd` binary builds an [`AppState`] and composes the roles).

pub mod auth;
mod body;
mod config;
mod convert;
pub mod dedupe;
mod error;
pub mod experiment_watch;
pub mod fleet_duty;
pub mod fleet_tally;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod ingest;
pub mod jobs;
mod listener;
mod metrics_http;
mod periodic;
pub mod rollout;
mod routes;
mod scrape;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use recd_features::{FeatureStore, Offset};
use recd_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::ServeConfig;
pub use error::ApiError;
pub use metrics_http::{describe_metrics, install_metrics_recorder};
pub use routes::admin::log::compact_out;

/// Everything the handlers share.
pub struct AppState {
    /// The data dir's log, id maps and catalog.
    pub store: Arc<Store>,
    /// The models directory the served versions are loaded from (`[models] store`, or a
    /// remote store's local copy): what the admin routes show.
    pub models_dir: std::path::PathBuf,
    /// Real-time features (read only).
    pub features: Arc<dyn FeatureStore>,
    /// Gets the log's end offset after each append, so the updater wakes at once.
    pub appended: watch::Sender<Offset>,
    /// The updater's applied offset; `None` until its first catch-up (readiness waits for it).
    pub features_applied: watch::Receiver<Option<Offset>>,
    /// Renders `/metrics`; `None` serves an empty page (tests that install no recorder).
    pub metrics: Option<PrometheusHandle>,
    /// The `[serve]` settings.
    pub config: ServeConfig,
    /// The online engine: served model (hot-swapped), answer cache, compute pool.
    pub online: Arc<recd_online::Online>,
    /// Whether `/readyz` has declared this instance ready (it stays ready once it has).
    pub readiness: Readiness,
    /// Training runs started by this server (`None`: it runs none, e.g. in tests).
    pub jobs: Option<Arc<jobs::Jobs>>,
    /// Event ids seen lately, so a retried event is applied once: this process's (rebuilt
    /// from the log at start: [`dedupe::DedupeWindow::rebuild`]) or, with a bus, the fleet's.
    pub dedupe: dedupe::Dedupe,
    /// The per-user rate ceiling that flags a bot's events at ingest (`[serve.bots]`).
    pub bots: Arc<ingest::bots::BotFilter>,
    /// API keys, rate limits and trusted proxies.
    pub security: Arc<auth::Security>,
    /// Events joined to impressions, per experiment variant (`None` when impressions are not
    /// recorded).
    pub attribution: Option<Arc<recd_attribution::Attribution>>,
    /// The experiments' definitions, changed by the admin API (`None`: not managed here).
    pub experiments: Option<Arc<recd_online::experiments::admin::ExperimentAdmin>>,
    /// The shared event bus of a scaled deployment: events go there instead of the data
    /// dir's log, and `recd stream` applies them (`None`: the embedded log and updater).
    pub bus: Option<Arc<dyn recd_bus::EventBus>>,
    /// The data dir's logs as this process writes them: what compaction and the log size
    /// metrics work on.
    pub logs: Arc<recd_store::retention::Logs>,
    /// The gradual rollout's settings and history (`rollout::Rollouts::off` when it does not
    /// run in this process).
    pub rollout: Arc<rollout::Rollouts>,
    /// The watch over running experiments (`experiment_watch::Watching::off` when it does not
    /// run here).
    pub experiment_watch: Arc<experiment_watch::Watching>,
    /// The other API processes' experiment tallies, for one report of the fleet (`None`:
    /// no fleet, or impressions not recorded).
    pub fleet_tallies: Option<Arc<fleet_tally::FleetTallies>>,
}

/// The start-up hysteresis of `/readyz`: the instance becomes ready after
/// `[serve] ready_checks` consecutive checks found the feature updater within
/// `ready_max_lag_records` of the log, and stays ready after that (a later lag is reported
/// in the body, not a 503: one slow phase must not pull every replica out of a load balancer).
#[derive(Debug, Default)]
pub struct Readiness {
    consecutive: std::sync::atomic::AtomicU32,
    ready: std::sync::atomic::AtomicBool,
}

impl Readiness {
    /// Records one check (`within_lag`: the updater has caught up once and is within the
    /// allowed lag) and returns whether the instance is ready.
    pub fn check(&self, within_lag: bool, needed: u32) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        if self.ready.load(SeqCst) {
            return true;
        }
        if !within_lag {
            self.consecutive.store(0, SeqCst);
            return false;
        }
        let n = self.consecutive.fetch_add(1, SeqCst) + 1;
        if n >= needed.max(1) {
            self.ready.store(true, SeqCst);
        }
        n >= needed.max(1)
    }
}

/// The whole HTTP API.
pub fn app(state: Arc<AppState>) -> Router {
    routes::router(state)
}

/// The OpenAPI 3.1 document of [`app`]'s routes (what `GET /openapi.json` serves).
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes::openapi::document()
}

/// The paths [`app`] routes, as written in the route table (`/v1/items/{id}`); the OpenAPI
/// document must describe exactly these.
pub fn route_paths() -> Vec<&'static str> {
    routes::paths()
}

/// Serves `app` on `listener` within `config`'s connection limits, over TLS when `tls` is
/// given ([`auth::tls::acceptor`]), until `shutdown` resolves, then stops accepting and lets
/// the requests in flight finish (an acknowledged event is durable before its 202 is sent, so
/// draining loses nothing).
pub async fn run(
    listener: TcpListener,
    app: Router,
    config: &ServeConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max_connections = match config.max_connections {
        0 => listener::auto_max_connections(),
        n => n,
    };
    let limits = listener::ConnectionLimits {
        max_connections,
        header_read_timeout: std::time::Duration::from_millis(config.header_read_timeout_ms.max(1)),
        idle_timeout: std::time::Duration::from_secs(config.idle_timeout_secs.max(1)),
        tls,
    };
    tracing::info!(max_connections, "accepting connections");
    listener::serve(listener, app, limits, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::Readiness;

    #[test]
    fn readiness_needs_consecutive_checks_within_lag_and_then_stays() {
        let r = Readiness::default();
        assert!(!r.check(false, 2));
        assert!(!r.check(true, 2));
        // A check outside the lag starts the count again.
        assert!(!r.check(false, 2));
        assert!(!r.check(true, 2));
        assert!(r.check(true, 2));
        // Once ready, a lagging check does not pull the instance out.
        assert!(r.check(false, 2));
    }
}
