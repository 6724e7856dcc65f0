//! `[serve]` section of the config file.

use serde::{Deserialize, Serialize};

/// HTTP server settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free port (the bound address is printed).
    pub listen: String,
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Most events accepted in one `POST /v1/events`; more get 413.
    pub max_events_per_request: usize,
    /// How long a graceful shutdown waits for requests in flight and the updater.
    pub shutdown_timeout_secs: u64,
    /// Default number of entries of `GET /v1/trending`.
    pub trending_limit: usize,
    /// Threads of the async runtime that runs the HTTP server: parsing, routing, feature
    /// reads, JSON (0: one per core). Recommendation work runs on its own pool
    /// (`[serve.recommend] compute_threads`), so a process that mostly answers
    /// recommendations needs few: on 2 cores, 1 gave more saturation throughput than 2
    /// (fewer threads time-slicing with the compute pool), while event ingest, which parses
    /// its JSON here, fell (BENCHMARKS.md).
    pub http_threads: usize,
    /// Most connections open at once; at the cap, new ones wait in the listen backlog until
    /// one closes (a log line says so). 0: three quarters of the open-file limit, which the
    /// server raises to its hard limit at start.
    pub max_connections: usize,
    /// A request's headers must arrive in full within this long (slow or stalled clients are
    /// disconnected).
    pub header_read_timeout_ms: u64,
    /// A connection on which nothing is read or written for this long is closed (idle
    /// keep-alive connections, stalled clients).
    pub idle_timeout_secs: u64,
    /// A request's whole body must arrive within this long, else 408.
    pub body_timeout_ms: u64,
    /// Events about items missing from the catalog: `accept` (counted, logged once per item)
    /// or `reject` (400).
    pub unknown_items: crate::ingest::UnknownItems,
    /// `[serve.bots]`: the per-user rate ceiling that flags a bot's events.
    pub bots: crate::ingest::bots::BotConfig,
    /// An event timestamped more than this far ahead of the server's clock is refused (400);
    /// 0: no check.
    pub max_future_skew_secs: u64,
    /// `/readyz` becomes ready once the feature updater, after its first catch-up, is within
    /// this many log records of the log's end ...
    pub ready_max_lag_records: u64,
    /// ... on this many consecutive checks (then it stays ready; lag is reported in the body).
    pub ready_checks: u32,
    /// Most model versions the server holds in memory at once (at least 1): `CURRENT`, plus
    /// the registry's candidate while traffic is routed to it. A candidate that would exceed
    /// the cap is not loaded (a warning says so) and its traffic is served by `CURRENT`.
    pub max_resident_models: usize,
    /// How long `POST /v1/events` remembers an `event_id` (or an `Idempotency-Key`'s events):
    /// a retry within it is answered with the first attempt's offsets and not appended again.
    /// Rebuilt from the log's tail at start; with a bus, the fleet's window on the feature
    /// store's Redis.
    pub dedupe_window_secs: u64,
    /// Most event ids remembered (in a process about 100 bytes plus the id each; with a bus,
    /// over the whole fleet, on Redis: docs/deploy.md); past it the oldest are forgotten
    /// first. 0 turns dedupe off.
    pub dedupe_max_entries: usize,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client, for rate
    /// limits and the admin loopback rule; any other peer is the client itself.
    pub trusted_proxies: Vec<String>,
    /// `[serve.recommend]`: recommendation requests.
    pub recommend: recd_online::RecommendConfig,
    /// `[serve.impressions]`: recording what each answer showed.
    pub impressions: recd_online::impressions::ImpressionConfig,
    /// `[serve.guardrails]`: sequential tests and guardrails of running experiments.
    pub guardrails: recd_online::experiments::guard::GuardConfig,
    /// `[serve.rollout]`: the gradual rollout of the registry's candidate.
    pub rollout: recd_online::rollout::RolloutConfig,
    /// `[serve.auth]`: API keys.
    pub auth: crate::auth::config::AuthConfig,
    /// `[serve.rate_limit]`: requests per second per caller and per address.
    pub rate_limit: crate::auth::config::RateLimitConfig,
    /// `[serve.cors]`: browsers' cross-origin calls.
    pub cors: crate::auth::config::CorsConfig,
    /// `[serve.tls]`: TLS terminated by recd itself.
    pub tls: crate::auth::config::TlsConfig,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:7878".into(),
            max_body_bytes: 8 << 20,
            max_events_per_request: 10_000,
            shutdown_timeout_secs: 10,
            trending_limit: 20,
            http_threads: 0,
            max_connections: 0,
            header_read_timeout_ms: 10_000,
            idle_timeout_secs: 60,
            body_timeout_ms: 30_000,
            max_future_skew_secs: 3600,
            unknown_items: Default::default(),
            bots: Default::default(),
            ready_max_lag_records: 10_000,
            ready_checks: 2,
            max_resident_models: 2,
            dedupe_window_secs: 86_400,
            dedupe_max_entries: 1_000_000,
            trusted_proxies: Vec::new(),
            recommend: Default::default(),
            impressions: Default::default(),
            guardrails: Default::default(),
            rollout: Default::default(),
            auth: Default::default(),
            rate_limit: Default::default(),
            cors: Default::default(),
            tls: Default::default(),
        }
    }
}
