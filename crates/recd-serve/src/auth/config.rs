//! `[serve.auth]`, `[serve.rate_limit]`, `[serve.cors]` and `[serve.tls]`.

use serde::{Deserialize, Serialize};

use super::keys::KeyEntry;

/// Who may call what.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Keys as `{ id, sha256, scopes }` entries: the SHA-256 of each key, never the key
    /// (`recd keys create` prints a key and its entry). From the environment:
    /// `RECD__SERVE__AUTH__KEYS='[{id="web", sha256="…", scopes=["read"]}]'`.
    pub keys: Vec<KeyEntry>,
    /// The keys file `recd keys create|revoke` maintains, read at start and re-read when it
    /// changes; "" is `<data dir>/keys.toml`. Its keys are valid beside `keys`.
    pub keys_file: String,
    /// With no key configured, serve on a non-loopback address anyway, with no
    /// authentication at all (`recd serve --insecure`).
    pub insecure: bool,
    /// `/metrics` needs the admin scope (it is open otherwise, for Prometheus).
    pub protect_metrics: bool,
}

/// Requests per second allowed; 0 is no limit. Over a limit, 429 with `Retry-After`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Per caller (an API key; the client address when no keys are configured) on routes of
    /// the read scope.
    pub read_per_sec: u32,
    /// Per caller on `POST /v1/events` (a request, whatever the number of events in it).
    pub ingest_per_sec: u32,
    /// Per caller on routes of the admin scope.
    pub admin_per_sec: u32,
    /// Per client address on every route but `/healthz` and `/readyz`, whatever the key.
    pub per_address_per_sec: u32,
    /// How many seconds' worth of requests may arrive at once before the rate applies (in a
    /// fleet, the length of the sliding window its counts on Redis cover).
    pub burst_secs: u32,
}

impl RateLimitConfig {
    /// The per-caller rate of routes of `scope` (0: no limit).
    pub fn per_sec(&self, scope: super::keys::Scope) -> u32 {
        use super::keys::Scope;
        match scope {
            Scope::Read => self.read_per_sec,
            Scope::Ingest => self.ingest_per_sec,
            Scope::Admin => self.admin_per_sec,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            read_per_sec: 0,
            ingest_per_sec: 0,
            admin_per_sec: 0,
            per_address_per_sec: 0,
            burst_secs: 1,
        }
    }
}

/// Cross-origin requests from browsers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed to call the API from a browser (`https://shop.example`), or `["*"]`
    /// for any; empty: no CORS headers, so browsers refuse cross-origin calls.
    pub allow_origins: Vec<String>,
    /// How long a browser may cache a preflight answer.
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            allow_origins: Vec::new(),
            max_age_secs: 600,
        }
    }
}

/// TLS, when recd terminates it itself (behind a load balancer that does, leave both empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the certificate chain, leaf first.
    pub cert_file: String,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: String,
}

impl TlsConfig {
    /// Whether TLS is configured.
    pub fn enabled(&self) -> bool {
        !self.cert_file.is_empty() || !self.key_file.is_empty()
    }
}
