//! The S3 client: `[models]` keys over the standard AWS environment.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, RetryConfig};

use crate::{ModelStoreConfig, StoreError};

/// Builds the client of `bucket`: `AWS_*` environment variables first (endpoint, region,
/// credentials, `AWS_ALLOW_HTTP`), then the non-empty `[models]` keys over them.
pub(super) fn s3(
    bucket: &str,
    config: &ModelStoreConfig,
    url: &str,
) -> Result<Arc<dyn ObjectStore>, StoreError> {
    install_crypto_provider();
    let timeout = Duration::from_millis(config.request_timeout_ms.max(100));
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        // A poll that waits minutes on a dead store would hide the outage from /readyz;
        // object_store's default policy keeps retrying for minutes.
        .with_retry(RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                base: 2.0,
            },
            max_retries: 2,
            retry_timeout: timeout,
        })
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
            format!("{}ms", timeout.as_millis()),
        )
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
            format!("{}ms", timeout.as_millis().min(5_000)),
        );
    if !config.endpoint.is_empty() {
        builder = builder.with_endpoint(&config.endpoint);
    }
    if !config.region.is_empty() {
        builder = builder.with_region(&config.region);
    }
    if config.allow_http {
        builder = builder.with_allow_http(true);
    }
    let store = builder.build().map_err(|source| StoreError::Remote {
        store: url.to_string(),
        source,
    })?;
    Ok(Arc::new(store))
}

/// reqwest is built with rustls but without a crypto provider (the default one would be
/// aws-lc-rs, a second provider and a large C build); the process default is ring, as for
/// the server's own TLS. Installing fails only when a default is already set, which is fine.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
