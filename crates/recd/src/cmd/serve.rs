//! `recd serve`: the HTTP API and the feature updater in one process.
//!
//! The roles meet here and only here: `recd-serve` answers requests and reads features,
//! `recd-stream`'s updater is the one writer of features, and the two talk through two watch
//! channels (log end → updater, applied offset → readiness). Shutdown on SIGTERM or ctrl-c:
//! stop accepting, drain requests in flight (their events are durable before their 202), then
//! let the updater apply what is left, each within `[serve] shutdown_timeout_secs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use recd_features::{EmbeddedStore, FeatureConfig, FeatureStore, RedisStore};
use recd_serve::{AppState, ServeConfig};
use recd_store::{Store, StoreConfig};
use recd_stream::{AlsFoldIn, CatalogCategories, SharedFactors, StreamConfig, Updater};
use serde::Deserialize;
use tokio::sync::watch;

/// Flags of this subcommand.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Data dir (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Address to listen on, e.g. 127.0.0.1:0 for a free port (overrides `[serve] listen`).
    #[arg(long)]
    pub listen: Option<String>,
    /// TOML config file; its `[serve]`, `[features]` and `[stream]` sections are read here.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where features live: `embedded`, `redis://host:port` or
    /// `redis+cluster://host:port,host:port` (overrides `[features] store`).
    #[arg(long)]
    pub feature_store: Option<String>,
}

/// The sections of the config file this role reads. Other roles read theirs (e.g. `[train]`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServeFileConfig {
    /// HTTP server.
    pub serve: ServeConfig,
    /// Feature store.
    pub features: FeatureConfig,
    /// Updater and fold-in.
    pub stream: StreamConfig,
}

/// Every top-level section any role reads; anything else in the file is a typo.
const KNOWN_SECTIONS: &[&str] = &["serve", "features", "stream", "train", "store"];

/// Reads the serving sections of a config file; unknown sections and keys are errors that
/// name the file and the key.
pub fn load_config(path: &Path) -> anyhow::Result<ServeFileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if let Some(unknown) = table.keys().find(|k| !KNOWN_SECTIONS.contains(&k.as_str())) {
        anyhow::bail!(
            "{}: unknown section [{unknown}]; expected one of {}",
            path.display(),
            KNOWN_SECTIONS.join(", ")
        );
    }
    let mut config = ServeFileConfig::default();
    if let Some(s) = table.get("serve") {
        config.serve = section(path, "serve", s)?;
    }
    if let Some(s) = table.get("features") {
        config.features = section(path, "features", s)?;
    }
    if let Some(s) = table.get("stream") {
        config.stream = section(path, "stream", s)?;
    }
    Ok(config)
}

fn section<T: serde::de::DeserializeOwned>(
    path: &Path,
    name: &str,
    value: &toml::Value,
) -> anyhow::Result<T> {
    value
        .clone()
        .try_into()
        .with_context(|| format!("{}: section [{name}]", path.display()))
}

/// Runs the subcommand.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => load_config(path)?,
        None => ServeFileConfig::default(),
    };
    if let Some(listen) = &args.listen {
        config.serve.listen.clone_from(listen);
    }
    if let Some(store) = &args.feature_store {
        config.features.store.clone_from(store);
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if config.serve.http_threads > 0 {
        runtime.worker_threads(config.serve.http_threads);
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(&args.data_dir, config))
}

fn open_features(config: FeatureConfig) -> anyhow::Result<Arc<dyn FeatureStore>> {
    if config.store == "embedded" {
        return Ok(Arc::new(EmbeddedStore::new(config)));
    }
    let url = config.store.clone();
    let store = RedisStore::open(&url, config).with_context(|| format!("feature store {url:?}"))?;
    Ok(Arc::new(store))
}

async fn serve(data_dir: &Path, config: ServeFileConfig) -> anyhow::Result<()> {
    let metrics = recd_serve::install_metrics_recorder();
    let dir = data_dir.to_path_buf();
    let store = tokio::task::spawn_blocking(move || Store::open(&dir, StoreConfig::default()))
        .await
        .context("opening the store")?
        .with_context(|| format!("opening data dir {}", data_dir.display()))?;
    let store = Arc::new(store);
    let features = open_features(config.features)?;
    tracing::info!(
        backend = features.backend(),
        log_end = store.log().end_offset(),
        "store open"
    );

    let (appended, wake) = watch::channel(store.log().end_offset());
    let (progress, features_applied) = watch::channel(None);
    let (stop_updater, updater_stop) = watch::channel(false);
    // Item factors arrive with models from the batch layer; until one is loaded the fold-in
    // has nothing to solve against and leaves users without a vector.
    let factors = Arc::new(SharedFactors::default());
    // The current model is loaded before serving (and before the updater, so the fold-in has
    // factors from the start); the watcher then swaps in each new version.
    let online = Arc::new(recd_serve::recommend::Online::new(&config.serve.recommend));
    let _model_watcher =
        super::online::start(data_dir, &config.serve, &online, &store, factors.clone()).await;
    let fold = Arc::new(AlsFoldIn::new(factors, config.stream.fold_in.clone()));
    let updater = Updater::new(
        store.log().clone(),
        features.clone(),
        Arc::new(CatalogCategories(store.clone())),
        Some(fold),
        config.stream,
    );
    let updater_task = tokio::spawn(updater.run(wake, updater_stop, progress));

    let listen = config.serve.listen.clone();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    println!("listening on http://{addr}");
    let timeout = Duration::from_secs(config.serve.shutdown_timeout_secs);
    let state = Arc::new(AppState {
        store: store.clone(),
        features,
        appended,
        features_applied,
        metrics,
        config: config.serve,
        online,
    });

    let (signalled_tx, mut signalled) = watch::channel(false);
    let server = recd_serve::run(listener, recd_serve::app(state), async move {
        shutdown_signal().await;
        tracing::info!("shutting down: no new connections, draining requests in flight");
        signalled_tx.send_replace(true);
    });
    tokio::select! {
        res = server => res.context("http server")?,
        _ = async {
            let _ = signalled.wait_for(|s| *s).await;
            tokio::time::sleep(timeout).await;
        } => tracing::warn!(timeout_secs = timeout.as_secs(), "requests still in flight after the shutdown timeout; stopping anyway"),
    }

    stop_updater.send_replace(true);
    match tokio::time::timeout(timeout, updater_task).await {
        Ok(joined) => joined.context("updater task")?,
        Err(_) => tracing::warn!(
            "updater did not finish within the shutdown timeout; the next start resumes from its offset"
        ),
    }
    // Every acknowledged append was fsync'd before its 202; dropping the store closes the log.
    drop(store);
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or ctrl-c.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses_and_matches_the_defaults() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/recd.example.toml"
        ));
        let config = load_config(path).unwrap();
        assert_eq!(config.serve, ServeConfig::default());
        assert_eq!(config.features, FeatureConfig::default());
        assert_eq!(config.stream, StreamConfig::default());
    }

    #[test]
    fn unknown_keys_and_sections_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recd.toml");
        std::fs::write(&path, "[serve]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n").unwrap();
        let err = format!("{:#}", load_config(&path).unwrap_err());
        assert!(err.contains("[serve]") && err.contains("lisen"), "{err}");
        std::fs::write(&path, "[sreve]\n").unwrap();
        let err = format!("{:#}", load_config(&path).unwrap_err());
        assert!(err.contains("unknown section [sreve]"), "{err}");
        std::fs::write(
            &path,
            "[features]\nuser_ttl_secs = 60\n[features.redis]\ncache_ttl_ms = 5\n",
        )
        .unwrap();
        let config = load_config(&path).unwrap();
        assert_eq!(
            (
                config.features.user_ttl_secs,
                config.features.redis.cache_ttl_ms
            ),
            (60, 5)
        );
    }
}
