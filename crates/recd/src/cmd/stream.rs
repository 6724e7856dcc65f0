//! `recd stream`: the updater role of a scaled deployment. It applies the event bus's
//! partitions that it holds leases for to the Redis feature store (fold-in included, when a
//! models dir is given), beside any number of stateless `recd serve --events ...` processes.
//! Several `recd stream` processes share the partitions and take over a dead one's.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use recd_features::RedisStore;
use recd_online::catalog::LogCatalog;
use recd_store::Store;
use recd_stream::{AlsFoldIn, CategoryLookup, PartitionedUpdater, SharedFactors};
use recd_types::ItemId;
use tokio::sync::watch;

use crate::config::{self, Config, Override};

/// Flags of this subcommand.
#[derive(Debug, clap::Args)]
pub struct StreamArgs {
    /// The event bus: `redis://host:port`, `redis+cluster://host:port,...` or
    /// `kafka://host:port,.../topic` (sets `bus.events`).
    #[arg(long)]
    pub events: Option<String>,
    /// The feature store: `redis://host:port` or `redis+cluster://host:port,...` (sets
    /// `features.store`).
    #[arg(long)]
    pub feature_store: Option<String>,
    /// A data dir to read: item categories from its log's catalog records (those put through
    /// the API since come from the bus's catalog channel), and the models of `[models] store`
    /// for the fold-in (with a remote store, its local copy is kept in this dir's `models/`,
    /// as a server keeps one). Without it, users get no folded-in vector.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// This process's name in the partition leases, unique per process (default: the host
    /// name and the process id).
    #[arg(long)]
    pub owner: Option<String>,
    /// Where to answer `GET /metrics` and `GET /healthz`, host:port (sets `stream.listen`;
    /// default: no listener).
    #[arg(long)]
    pub listen: Option<String>,
}

impl StreamArgs {
    /// The flags that set config keys.
    pub fn overrides(&self) -> Vec<Override> {
        let mut res = Vec::new();
        if let Some(events) = &self.events {
            res.push(config::flag("--events", "bus.events", events));
        }
        if let Some(store) = &self.feature_store {
            res.push(config::flag("--feature-store", "features.store", store));
        }
        if let Some(listen) = &self.listen {
            res.push(config::flag("--listen", "stream.listen", listen));
        }
        res
    }
}

/// Item categories from a data dir's log, read once at start.
struct Categories(LogCatalog);

impl CategoryLookup for Categories {
    fn category(&self, item: &ItemId) -> Option<String> {
        self.0.item(item.as_str())?.category.clone()
    }
}

/// Runs the role until SIGTERM or ctrl-c.
pub fn run(args: StreamArgs, config: Config) -> anyhow::Result<()> {
    if !config.bus.is_bus() {
        anyhow::bail!(
            "recd stream applies a shared event bus: set --events redis://host:port or kafka://host:port/topic (bus.events); \
             with the embedded log, `recd serve` applies it itself"
        );
    }
    if config.features.store == "embedded" {
        anyhow::bail!(
            "recd stream writes a shared feature store: set --feature-store redis://host:port \
             (features.store); the embedded store lives inside one `recd serve`"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(stream(args, config))
}

async fn stream(args: StreamArgs, config: Config) -> anyhow::Result<()> {
    let bus = recd_bus::open(config.bus.clone())
        .with_context(|| format!("event bus {:?}", config.bus.events))?;
    let url = config.features.store.clone();
    let features = Arc::new(
        RedisStore::open(&url, config.features.clone())
            .with_context(|| format!("feature store {url:?}"))?,
    );
    let factors = Arc::new(SharedFactors::default());
    let (from_dir, _watcher): (Option<Arc<dyn CategoryLookup>>, _) = match &args.data_dir {
        Some(dir) => {
            let log = Store::open_log_reader(dir)
                .with_context(|| format!("reading the data dir {}", dir.display()))?;
            let catalog = LogCatalog::read(&log)
                .with_context(|| format!("reading the catalog of {}", dir.display()))?;
            let online = Arc::new(recd_online::Online::new(
                config.serve.recommend.clone(),
                features.clone(),
                Arc::new(catalog.clone()),
            ));
            let watcher =
                super::online::start(dir, &config.serve, &config.models, &online, factors.clone())
                    .await?;
            (Some(Arc::new(Categories(catalog))), Some((watcher, online)))
        }
        None => (None, None),
    };
    // Items put through any API process reach the categories through the catalog channel.
    let (categories, _catalog_follower) =
        super::shared_catalog::FollowedCategories::follow(bus.as_ref(), from_dir)?;
    let fold = Arc::new(AlsFoldIn::new(factors, config.stream.fold_in.clone()));
    let owner = args.owner.clone().unwrap_or_else(|| {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        format!("{host}:{}", std::process::id())
    });
    tracing::info!(
        owner = %owner,
        partitions = bus.partitions(),
        lease_ms = config.stream.lease_ms,
        "stream role starting"
    );
    let metrics = recd_serve::install_metrics_recorder();
    recd_features::describe_metrics();
    recd_stream::describe_metrics();
    let (listen, owner_name, partitions) = (
        config.stream.listen.clone(),
        owner.clone(),
        bus.partitions(),
    );
    let updater = PartitionedUpdater::new(
        bus,
        &url,
        features,
        categories,
        Some(fold),
        config.stream,
        owner,
    )
    .with_context(|| format!("partition leases on the feature store {url:?}"))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (owned_tx, mut owned_rx) = watch::channel(Vec::new());
    let listener = match listen.as_str() {
        "" => None,
        addr => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr} (stream.listen)"))?;
            let bound = listener.local_addr().context("reading the bound address")?;
            println!("listening on http://{bound}");
            let report = Arc::new(super::stream_http::Report {
                render: Box::new(move || metrics.as_ref().map(|m| m.render()).unwrap_or_default()),
                owner: owner_name,
                owned: owned_rx.clone(),
                partitions,
            });
            Some(tokio::spawn(super::stream_http::serve(listener, report)))
        }
    };
    let task = tokio::spawn(updater.run(stop_rx, owned_tx));
    let report = tokio::spawn(async move {
        while owned_rx.changed().await.is_ok() {
            let owned = owned_rx.borrow_and_update().clone();
            tracing::info!(?owned, "partitions owned");
        }
    });
    super::serve::shutdown_signal().await;
    tracing::info!("stopping: applying what is left, then releasing the partitions");
    stop_tx.send_replace(true);
    task.await.context("stream task")?;
    report.abort();
    if let Some(listener) = listener {
        listener.abort();
    }
    tracing::info!("stopped");
    Ok(())
}
