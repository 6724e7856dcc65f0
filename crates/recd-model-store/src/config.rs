//! `[models]`: where model versions are published and read.

use serde::{Deserialize, Serialize};

/// The `[models]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelStoreConfig {
    /// Where `recd train` publishes versions and the registry, and where `recd serve` reads
    /// them: empty for the data dir's `models/`; a directory path (a shared volume several
    /// processes mount: see docs/deploy.md for what its filesystem must guarantee); or
    /// `s3://bucket/prefix` for S3-compatible object storage, of which each process keeps a
    /// local copy in its data dir's `models/`. Credentials come from the standard AWS
    /// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, or
    /// the instance's role), never from this file, which `recd config show` prints.
    pub store: String,
    /// The S3 endpoint URL, for S3-compatible stores other than AWS (MinIO, Ceph, a local
    /// test server); empty: `AWS_ENDPOINT_URL`, else AWS itself.
    pub endpoint: String,
    /// The S3 region; empty: `AWS_REGION` (or `AWS_DEFAULT_REGION`), else `us-east-1`.
    pub region: String,
    /// Allow plain-HTTP endpoints (a store on loopback or a private network); `AWS_ALLOW_HTTP=true`
    /// sets it too.
    pub allow_http: bool,
    /// How often `recd serve` reads a remote store's registry, in ms. A promotion reaches a
    /// server within this interval plus the version's download and `[serve.recommend]
    /// model_poll_ms`.
    pub poll_ms: u64,
    /// The deadline of one request to a remote store, in ms, body transfer included (so it
    /// must cover the largest model file's download); failed requests are retried twice
    /// within it. Connecting has its own deadline of at most 5 s, so a store that is down
    /// is noticed within seconds.
    pub request_timeout_ms: u64,
}

impl Default for ModelStoreConfig {
    fn default() -> Self {
        Self {
            store: String::new(),
            endpoint: String::new(),
            region: String::new(),
            allow_http: false,
            poll_ms: 5_000,
            request_timeout_ms: 120_000,
        }
    }
}
