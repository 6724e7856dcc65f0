//! Who may call what, and how often: API keys with scopes, the client address behind trusted
//! proxies, rate limits, and the one guard every route goes through.
//!
//! Each route of the table (`routes/mod.rs`) says what it needs as an [`Access`]. Authentication
//! is on once at least one key is configured (in `[serve.auth] keys` or the key store), and
//! stays on for the life of the process even if every key is later revoked: a server that was
//! protected never silently opens. Without keys, admin routes answer only to clients on
//! loopback (../shared/DECISIONS.md §5) and `recd serve` refuses a non-loopback address unless
//! `--insecure` is given.
//!
//! In a fleet, the keys `recd keys` manages live on the feature store's Redis
//! ([`store::SharedKeys`]), which every API process polls like a keys file; keys in the
//! configuration are the same for every process that shares it. Rate limits are the fleet's:
//! counted on its Redis in batches ([`fleet_limit`]) while those counts are current, and 1/N
//! of each per process otherwise ([`Security::set_fleet_size`], N from the members'
//! heartbeat on Redis).

pub mod config;
pub mod cors;
pub mod fleet_limit;
pub mod keys;
mod limit;
pub mod store;
pub mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

use crate::ApiError;
use keys::{KeyEntry, Scope};
use store::KeyStore;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Liveness and readiness probes: no key, no rate limit (a load balancer must always
    /// get through).
    Probe,
    /// Open to anyone (the API document and its page), within the address limit.
    Public,
    /// `/metrics`: open, or admin when `[serve.auth] protect_metrics` is set.
    Metrics,
    /// A key with this scope.
    Scoped(Scope),
}

/// The caller a request was let through as.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's id; `None` without authentication.
    pub key_id: Option<String>,
    /// The client's address (from `X-Forwarded-For` only behind trusted proxies).
    pub address: Option<IpAddr>,
}

/// Why the server cannot start with its security settings.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// A key entry or the key store is wrong, or the store cannot be read.
    #[error(transparent)]
    Keys(#[from] keys::KeysError),
    /// An origin of `[serve.cors] allow_origins` is not an origin.
    #[error("{0}")]
    Cors(String),
    /// An entry of `[serve] trusted_proxies` is neither an address nor a CIDR range.
    #[error("serve.trusted_proxies: {0:?} is neither an IP address nor a CIDR range (10.0.0.0/8)")]
    Proxy(String),
}

/// The keys, limits and proxies of a server.
pub struct Security {
    config_keys: Vec<KeyEntry>,
    /// Where `recd keys` keeps the others (None: config keys only).
    store: Option<Arc<dyn KeyStore>>,
    /// Config keys and stored keys together, replaced whole when the store changes.
    keys: ArcSwap<Vec<KeyEntry>>,
    /// The store's stamp at the last read.
    store_stamp: std::sync::Mutex<Option<String>>,
    enabled: AtomicBool,
    protect_metrics: bool,
    /// Rebuilt when the fleet's size changes (its state starts afresh then).
    limits: ArcSwap<limit::Limits>,
    rate_limit: config::RateLimitConfig,
    /// Live API processes sharing the limits (1 without a fleet).
    fleet_size: std::sync::atomic::AtomicUsize,
    /// The fleet's counts, in a fleet with rate limits: they decide while current.
    fleet_limits: std::sync::OnceLock<fleet_limit::FleetLimits>,
    proxies: Vec<IpNet>,
}

impl Security {
    /// From `[serve]`; `store` is where `recd keys` writes (None: config keys only).
    pub fn new(
        serve: &crate::ServeConfig,
        store: Option<Arc<dyn KeyStore>>,
    ) -> Result<Self, SecurityError> {
        keys::check(&serve.auth.keys, "serve.auth.keys")?;
        cors::check(&serve.cors).map_err(SecurityError::Cors)?;
        let proxies = serve
            .trusted_proxies
            .iter()
            .map(|p| parse_net(p).ok_or_else(|| SecurityError::Proxy(p.clone())))
            .collect::<Result<_, _>>()?;
        let security = Self {
            config_keys: serve.auth.keys.clone(),
            store,
            keys: ArcSwap::from_pointee(Vec::new()),
            store_stamp: Default::default(),
            enabled: AtomicBool::new(false),
            protect_metrics: serve.auth.protect_metrics,
            limits: ArcSwap::from_pointee(limit::Limits::new(&serve.rate_limit, 1)),
            rate_limit: serve.rate_limit.clone(),
            fleet_size: std::sync::atomic::AtomicUsize::new(1),
            fleet_limits: std::sync::OnceLock::new(),
            proxies,
        };
        security.install(Vec::new())?;
        security.reload()?;
        Ok(security)
    }

    /// Whether any rate limit is configured.
    pub fn rate_limited(&self) -> bool {
        let r = &self.rate_limit;
        r.per_address_per_sec > 0 || Scope::ALL.iter().any(|&s| r.per_sec(s) > 0)
    }

    /// Counts the rate limits for the whole fleet on `counters` from now on (while their
    /// counts are current; see [`fleet_limit`]). Once per process.
    pub fn count_limits_on(&self, counters: Box<dyn fleet_limit::SharedCounters>) {
        let fleet = fleet_limit::FleetLimits::new(counters, self.rate_limit.burst_secs);
        fleet.set_members(self.fleet_size.load(Ordering::Relaxed));
        let _ = self.fleet_limits.set(fleet);
    }

    /// Sends this process's rate-limit counts to the fleet's and takes in its totals; call
    /// every [`fleet_limit::SYNC_EVERY`]. Nothing to do without [`Self::count_limits_on`].
    pub fn sync_limits(&self) -> Result<usize, String> {
        let Some(fleet) = self.fleet_limits.get() else {
            return Ok(0);
        };
        let synced = fleet.sync(now_ms());
        metrics::gauge!("recd_rate_limit_fleet_counts_current").set(if synced.is_ok() {
            1.0
        } else {
            0.0
        });
        synced
    }

    /// `n` API processes of a fleet share the rate limits: when the fleet's counts are not
    /// current, this one enforces 1/`n` of each from now on (when `n` changed; the limiters
    /// start afresh).
    pub fn set_fleet_size(&self, n: usize) {
        let n = n.max(1);
        if let Some(f) = self.fleet_limits.get() {
            f.set_members(n);
        }
        if self.fleet_size.swap(n, Ordering::Relaxed) != n {
            self.limits
                .store(Arc::new(limit::Limits::new(&self.rate_limit, n)));
            metrics::gauge!("recd_rate_limit_fleet_share").set(1.0 / n as f64);
        }
    }

    /// Whether requests must carry a key.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// How many keys are valid now.
    pub fn key_count(&self) -> usize {
        self.keys.load().len()
    }

    /// Re-reads the key store if it changed since the last read; returns whether the key set
    /// changed. A store that cannot be read or parsed keeps the previous keys (and is an error
    /// for the caller to log): a half-edited file or a Redis outage must not lock everyone out.
    pub fn reload(&self) -> Result<bool, SecurityError> {
        let Some(store) = &self.store else {
            return Ok(false);
        };
        let stamp = store.stamp()?;
        let mut last = self.store_stamp.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_ref() == Some(&stamp) {
            return Ok(false);
        }
        let changed = self.install(store.read()?)?;
        *last = Some(stamp);
        Ok(changed)
    }

    /// Makes the config keys and `file_keys` the valid keys; returns whether that changed them.
    fn install(&self, file_keys: Vec<KeyEntry>) -> Result<bool, SecurityError> {
        let mut all = self.config_keys.clone();
        for k in file_keys {
            if all.iter().any(|c| c.id == k.id) {
                return Err(keys::KeysError::Invalid {
                    where_: "serve.auth.keys and the stored keys".into(),
                    id: k.id,
                    message: "two keys have this id".into(),
                }
                .into());
            }
            all.push(k);
        }
        let changed = **self.keys.load() != all;
        if !all.is_empty() {
            self.enabled.store(true, Ordering::Relaxed);
        }
        self.keys.store(Arc::new(all));
        Ok(changed)
    }

    /// Re-reads the key store every `every` and forgets idle rate-limit state; runs until the
    /// process ends.
    pub async fn upkeep(self: Arc<Self>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        let mut since_limits = Duration::ZERO;
        // A store that stays unreadable (Redis down) is said once, not at every tick.
        let mut failing = false;
        loop {
            tick.tick().await;
            // The store may be a network round trip (the fleet's Redis).
            let this = self.clone();
            let reloaded = tokio::task::spawn_blocking(move || this.reload()).await;
            match reloaded {
                Ok(Ok(changed)) => {
                    if changed {
                        tracing::info!(
                            keys = self.key_count(),
                            "API keys reloaded; authentication is on"
                        );
                    }
                    if failing {
                        tracing::info!("API keys readable again");
                    }
                    failing = false;
                }
                Ok(Err(e)) if !failing => {
                    failing = true;
                    tracing::error!(error = %e, "API keys not reloaded; the previous keys stay valid");
                }
                Ok(Err(_)) => {}
                Err(e) => tracing::error!(error = %e, "API key reload task failed"),
            }
            since_limits += every;
            if since_limits >= Duration::from_secs(60) {
                since_limits = Duration::ZERO;
                let tracked = self.limits.load().upkeep();
                metrics::gauge!("recd_rate_limit_tracked_callers").set(tracked as f64);
            }
        }
    }

    /// The client's address: the peer, or, when the peer is a trusted proxy, the first
    /// address of `X-Forwarded-For` from the right that is not a trusted proxy.
    fn client_address(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let mut address = peer?;
        if self.proxies.is_empty() || !self.trusted(address) {
            return Some(address);
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in forwarded.iter().rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    address = ip;
                    if !self.trusted(ip) {
                        break;
                    }
                }
                // Garbage in the header: stop at the last address we could believe.
                Err(_) => break,
            }
        }
        Some(address)
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.proxies.iter().any(|net| net.contains(&ip))
    }

    /// Decides a request: the caller it is let through as, or the error to answer.
    fn check(
        &self,
        access: Access,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
    ) -> Result<Caller, ApiError> {
        let address = self.client_address(peer, headers);
        if access == Access::Probe {
            return Ok(Caller {
                key_id: None,
                address,
            });
        }
        if let Some(ip) = address {
            self.limit_address(ip)?;
        }
        let scope = match access {
            Access::Probe | Access::Public => None,
            Access::Metrics => self.protect_metrics.then_some(Scope::Admin),
            Access::Scoped(scope) => Some(scope),
        };
        let Some(scope) = scope else {
            return Ok(Caller {
                key_id: None,
                address,
            });
        };
        let key_id = if self.enabled() {
            let key = self.authenticate(headers)?;
            if !key.allows(scope) {
                metrics::counter!("recd_auth_refused_total", "reason" => "scope").increment(1);
                return Err(ApiError::Forbidden(format!(
                    "key {:?} lacks the {} scope this route needs",
                    key.id,
                    scope.as_str()
                )));
            }
            Some(key.id)
        } else {
            if scope == Scope::Admin && !address.is_some_and(|a| a.is_loopback()) {
                metrics::counter!("recd_auth_refused_total", "reason" => "not_loopback")
                    .increment(1);
                return Err(ApiError::Forbidden(
                    "admin routes answer only to clients on loopback until API keys are configured"
                        .into(),
                ));
            }
            None
        };
        // Without keys, callers are told apart by address.
        let caller = match (&key_id, address) {
            (Some(id), _) => id.clone(),
            (None, Some(ip)) => ip.to_string(),
            (None, None) => String::new(),
        };
        self.limit_scope(scope, &caller)?;
        Ok(Caller { key_id, address })
    }

    /// The fleet's counts while they are current, else none (this process's share decides).
    fn fleet_counts(&self) -> Option<(&fleet_limit::FleetLimits, u64)> {
        let fleet = self.fleet_limits.get()?;
        let now = now_ms();
        fleet.current(now).then_some((fleet, now))
    }

    fn limit_address(&self, ip: IpAddr) -> Result<(), ApiError> {
        let per_sec = self.rate_limit.per_address_per_sec;
        match self.fleet_counts() {
            Some(_) if per_sec == 0 => Ok(()),
            Some((fleet, now)) => fleet
                .check(&format!("address|{ip}"), per_sec, now)
                .map_err(|wait| limited((limit::Which::Address, wait))),
            None => self.limits.load().check_address(ip).map_err(limited),
        }
    }

    fn limit_scope(&self, scope: Scope, caller: &str) -> Result<(), ApiError> {
        let per_sec = self.rate_limit.per_sec(scope);
        match self.fleet_counts() {
            Some(_) if per_sec == 0 => Ok(()),
            Some((fleet, now)) => fleet
                .check(&format!("{}|{caller}", scope.as_str()), per_sec, now)
                .map_err(|wait| limited((limit::Which::Scope(scope), wait))),
            None => self
                .limits
                .load()
                .check_scope(scope, caller)
                .map_err(limited),
        }
    }

    /// The key a request presents (`Authorization: Bearer K` or `X-API-Key: K`).
    fn authenticate(&self, headers: &HeaderMap) -> Result<KeyEntry, ApiError> {
        let presented = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()));
        let Some(presented) = presented else {
            metrics::counter!("recd_auth_refused_total", "reason" => "missing").increment(1);
            return Err(ApiError::Unauthorized(
                "this route needs an API key: send Authorization: Bearer <key> or X-API-Key: <key>"
                    .into(),
            ));
        };
        let keys = self.keys.load();
        match keys::find(&keys, presented) {
            Some(key) => Ok(key.clone()),
            None => {
                metrics::counter!("recd_auth_refused_total", "reason" => "invalid").increment(1);
                Err(ApiError::Unauthorized(
                    "the API key is not valid (unknown or revoked)".into(),
                ))
            }
        }
    }
}

fn limited((which, wait): (limit::Which, Duration)) -> ApiError {
    metrics::counter!("recd_rate_limited_total", "limit" => which.label()).increment(1);
    ApiError::RateLimited {
        limit: which.label(),
        retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
    }
}

/// The server's clock (`routes::now_ms`) as the fleet counters' unsigned milliseconds.
fn now_ms() -> u64 {
    u64::try_from(crate::routes::now_ms()).unwrap_or(0)
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The guard of a route that needs `access`. The server's [`Security`] comes from the
/// request's extensions (the router puts it there).
pub(crate) async fn guard(access: Access, request: Request, next: Next) -> Response {
    let Some(security) = request.extensions().get::<Arc<Security>>().cloned() else {
        return ApiError::Internal("the router has no security settings".into()).into_response();
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    match security.check(access, peer, request.headers()) {
        Ok(_) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests;
