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
use recd_serve::AppState;
use recd_serve::dedupe::{Dedupe, DedupeWindow};
use recd_serve::jobs::{JobSettings, Jobs};
use recd_store::Store;
use recd_stream::{AlsFoldIn, CatalogCategories, SharedFactors, Updater};
use tokio::sync::watch;

use crate::config::{self, Config, Override};

/// Flags of this subcommand.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Data dir (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Address to listen on, e.g. 127.0.0.1:0 for a free port (sets `serve.listen`).
    #[arg(long)]
    pub listen: Option<String>,
    /// Where features live: `embedded`, `redis://host:port` or
    /// `redis+cluster://host:port,host:port` (sets `features.store`).
    #[arg(long)]
    pub feature_store: Option<String>,
    /// The shared event bus: `redis://host:port`, `redis+cluster://host:port,...` or
    /// `kafka://host:port,.../topic` (sets `bus.events`; default `embedded`, the data dir's
    /// log).
    #[arg(long)]
    pub events: Option<String>,
    /// Do not run training on a schedule (sets `train.schedule.every` and `daily_at` to
    /// "off"); `POST /v1/admin/train` still starts one.
    #[arg(long)]
    pub no_train_schedule: bool,
    /// Serve on a non-loopback address without API keys, open to anyone (sets
    /// `serve.auth.insecure`).
    #[arg(long)]
    pub insecure: bool,
}

impl ServeArgs {
    /// The flags that set config keys.
    pub fn overrides(&self) -> Vec<Override> {
        let mut res = Vec::new();
        if let Some(listen) = &self.listen {
            res.push(config::flag("--listen", "serve.listen", listen));
        }
        if let Some(store) = &self.feature_store {
            res.push(config::flag("--feature-store", "features.store", store));
        }
        if let Some(events) = &self.events {
            res.push(config::flag("--events", "bus.events", events));
        }
        if self.insecure {
            res.push(Override {
                flag: "--insecure",
                key: "serve.auth.insecure",
                value: Some(toml::Value::Boolean(true)),
            });
        }
        if self.no_train_schedule {
            res.push(config::flag(
                "--no-train-schedule",
                "train.schedule.every",
                "off",
            ));
            res.push(config::flag(
                "--no-train-schedule",
                "train.schedule.daily_at",
                "off",
            ));
        }
        res
    }
}

/// Runs the subcommand; reads `[serve]`, `[features]`, `[stream]` and `[store]`.
pub fn run(args: ServeArgs, file: Option<&Path>, config: Config) -> anyhow::Result<()> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if config.serve.http_threads > 0 {
        runtime.worker_threads(config.serve.http_threads);
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let jobs = training_jobs(&args.data_dir, file, &config)?;
    runtime.block_on(serve(&args.data_dir, config, jobs))
}

/// How the server runs `recd train` (this binary) on its data dir: on `[train.schedule]`,
/// within `[train.job]`'s limits, with the same config file (the environment is inherited).
/// Over a bus the events are the bus's, so training reads them there, under the fleet's
/// training lock (the flags that named the bus and the feature store are passed on).
fn training_jobs(
    data_dir: &Path,
    file: Option<&Path>,
    config: &Config,
) -> anyhow::Result<JobSettings> {
    let train = &config.train;
    let program = std::env::current_exe().context("finding this program to run training")?;
    let mut args: Vec<std::ffi::OsString> =
        vec!["train".into(), "--data-dir".into(), data_dir.into()];
    if let Some(file) = file {
        args.extend(["--config".into(), file.into()]);
    }
    if config.bus.is_bus() {
        args.extend([
            "--events".into(),
            config.bus.events.clone().into(),
            "--feature-store".into(),
            config.features.store.clone().into(),
        ]);
    }
    Ok(JobSettings {
        program,
        args,
        dir: data_dir.join("jobs"),
        timeout: Duration::from_secs(train.job.timeout_secs),
        memory_limit_bytes: train.job.memory_mb << 20,
        nice: train.job.nice,
        every: train.schedule.every.0,
        daily_at: train.schedule.daily_at.0,
        history: train.job.history,
    })
}

async fn serve(data_dir: &Path, config: Config, jobs: JobSettings) -> anyhow::Result<()> {
    let metrics = recd_serve::install_metrics_recorder();
    recd_serve::describe_metrics();
    recd_features::describe_metrics();
    recd_stream::describe_metrics();
    recd_attribution::describe_metrics();
    recd_model_store::describe_metrics();
    let dir = data_dir.to_path_buf();
    let store_config = config.store.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&dir, store_config))
        .await
        .context("opening the store")?
        .with_context(|| format!("opening data dir {}", data_dir.display()))?;
    let store = Arc::new(store);
    let ttl_ms = config.features.user_ttl_ms();
    let mut feature_config = config.features.clone();
    if config.bus.is_bus() {
        // `recd stream` writes the features from another process: the local cache may hide
        // its writes for no longer than the freshness goal allows.
        let cap = recd_features::RedisConfig::SHARED_CACHE_TTL_MS;
        feature_config.redis.cache_ttl_ms = feature_config.redis.cache_ttl_ms.min(cap);
    }
    let features = super::online::open_features(feature_config)?;
    tracing::info!(
        backend = features.backend(),
        log_end = store.log().end_offset(),
        "store open"
    );

    let bus = open_bus(&config)?;
    // With a bus, catalog and profile changes made through any API process reach this one's
    // data dir through the bus's catalog channel.
    let catalog_follower = match &bus {
        Some(bus) => Some(super::shared_catalog::follow_into_store(
            bus.as_ref(),
            store.clone(),
        )?),
        None => None,
    };
    let (appended, wake) = watch::channel(store.log().end_offset());
    let (progress, features_applied) = watch::channel(None);
    let (stop_updater, updater_stop) = watch::channel(false);
    // Item factors arrive with models from the batch layer; until one is loaded the fold-in
    // has nothing to solve against and leaves users without a vector.
    let factors = Arc::new(SharedFactors::default());
    // The current model is loaded before serving (and before the updater, so the fold-in has
    // factors from the start); the watcher then swaps in each new version.
    let online = Arc::new(recd_online::Online::new(
        config.serve.recommend.clone(),
        features.clone(),
        store.clone(),
    ));
    // One server keeps its experiments in its data dir; a fleet shares them on Redis, and
    // each API process follows the others' changes.
    let experiments = Arc::new(match &bus {
        Some(bus) => super::fleet_state::experiments(
            bus.as_ref(),
            &config.features.store,
            config.serve.recommend.clone(),
            config.experiments.clone(),
        )?,
        None => recd_online::experiments::admin::ExperimentAdmin::open(
            Some(data_dir.join("experiments.json")),
            config.serve.recommend.clone(),
            config.experiments.clone(),
        )
        .context("reading the experiments")?,
    });
    online.set_experiments(experiments.compile()?);
    let _experiments_follower = bus.is_some().then(|| {
        tokio::spawn(super::fleet_state::follow_experiments(
            experiments.clone(),
            online.clone(),
        ))
    });
    let impressions =
        record_impressions(data_dir, &config.serve.impressions, &config.store, &online)?;
    let logs = Arc::new(recd_store::retention::Logs {
        events: store.file_log().clone(),
        impressions: impressions.as_ref().map(|(_, log)| log.clone()),
    });
    let _retention = super::retention::start(logs.clone(), &config.store.retention);
    let stop_attribution = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attribution = match &impressions {
        Some((_, log)) => Some(attribute(
            &store,
            attributed_events(&store, bus.as_deref())?,
            log.clone() as Arc<dyn recd_store::EventLog>,
            &config.serve.impressions,
            stop_attribution.clone(),
        )?),
        None => None,
    };
    let _model_watcher = super::online::start(
        data_dir,
        &config.serve,
        &config.models,
        &online,
        factors.clone(),
    )
    .await?;
    // Where the API keys are (the fleet's Redis with a bus), decided before `config` is split.
    let key_store = super::keys::key_store(data_dir, &config)?;
    let fold = Arc::new(AlsFoldIn::new(factors, config.stream.fold_in.clone()));
    let updater_task = if bus.is_some() {
        // `recd stream` applies the bus; this process's own log holds only its catalog
        // writes, which it reads itself. Nothing to catch up with here.
        progress.send_replace(Some(store.log().end_offset()));
        tokio::spawn(async {})
    } else {
        let updater = Updater::new(
            store.log().clone(),
            features.clone(),
            Arc::new(CatalogCategories(store.clone())),
            Some(fold),
            config.stream,
        )
        .with_replay_horizon(ttl_ms);
        tokio::spawn(updater.run(wake, updater_stop, progress))
    };

    let security = Arc::new(
        recd_serve::auth::Security::new(&config.serve, Some(key_store))
            .context("reading the API keys")?,
    );
    let tls = recd_serve::auth::tls::acceptor(&config.serve.tls)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listen = config.serve.listen.clone();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let (open_to_anyone, auth) = auth_line(&security, addr, &config.serve)?;
    tokio::spawn(security.clone().upkeep(Duration::from_secs(2)));
    if let Some(bus) = &bus {
        // The fleet's API processes share its rate limits.
        super::fleet_state::share_rate_limits(
            bus.as_ref(),
            &config.features.store,
            security.clone(),
        )?;
    }
    // stdout's one line is the address (scripts and tests read it, then may close the pipe);
    // how callers are authenticated is a log line beside it, a warning when anyone may write.
    println!("listening on {scheme}://{addr}");
    if open_to_anyone {
        tracing::warn!("{auth}");
    } else {
        tracing::info!("{auth}");
    }
    let timeout = Duration::from_secs(config.serve.shutdown_timeout_secs);
    let jobs = Jobs::open(jobs).context("opening the training jobs dir")?;
    if let Some(bus) = &bus {
        // The fleet's runs are listed by every API process.
        super::fleet_state::share_jobs(bus.as_ref(), &config.features.store, &jobs)?;
    }
    let dedupe = match &bus {
        Some(bus) => {
            super::fleet_state::dedupe(bus.as_ref(), &config.features.store, &config.serve)?
        }
        None => Dedupe::Local(rebuild_dedupe(&store, &config.serve).await?),
    };
    let bots = Arc::new(recd_serve::ingest::bots::BotFilter::new(
        config.serve.bots.clone(),
    ));
    let _schedule = tokio::spawn(jobs.clone().run_schedule());
    let models = recd_model_store::Location::parse(&config.models, data_dir)?;
    let rollout = Arc::new(rollouts(
        data_dir,
        &config.serve.rollout,
        &config.models,
        bus.as_ref()
            .map(|b| (b.as_ref(), config.features.store.as_str())),
        attribution.is_some(),
    )?);
    let watch = Arc::new(match (&bus, &attribution) {
        (_, None) => recd_serve::experiment_watch::Watching::off(),
        _ if !config.serve.guardrails.enabled => recd_serve::experiment_watch::Watching::off(),
        // In a fleet, one API process at a time watches the fleet's experiments.
        (Some(bus), Some(_)) => super::fleet_state::experiment_watch(
            bus.as_ref(),
            &config.features.store,
            config.serve.guardrails.clone(),
        )?,
        (None, Some(_)) => recd_serve::experiment_watch::Watching::open(
            config.serve.guardrails.clone(),
            data_dir.join("experiment_watch.json"),
        )
        .map_err(anyhow::Error::msg)?,
    });
    // A fleet's reports add every API process's tally (each holds only what it served).
    let fleet_tallies = match (&bus, &attribution) {
        (Some(bus), Some(_)) => Some(Arc::new(super::fleet_state::tallies(
            bus.as_ref(),
            &config.features.store,
            data_dir,
            config.serve.impressions.report_horizon_days,
        )?)),
        _ => None,
    };
    let state = Arc::new(AppState {
        models_dir: models.local_dir(data_dir),
        store: store.clone(),
        features,
        appended,
        features_applied,
        metrics,
        config: config.serve,
        online,
        readiness: Default::default(),
        jobs: Some(jobs),
        dedupe,
        bots,
        security,
        attribution: attribution.as_ref().map(|(a, _)| a.clone()),
        experiments: Some(experiments),
        bus,
        logs,
        rollout,
        experiment_watch: watch,
        fleet_tallies,
    });
    let _tally_publisher = state
        .fleet_tallies
        .is_some()
        .then(|| AbortOnDrop(recd_serve::fleet_tally::start(state.clone())));
    let _rollout = match recd_serve::rollout::start(state.clone()) {
        Ok(task) => Some(AbortOnDrop(task)),
        Err(why) => {
            tracing::info!("{why}");
            None
        }
    };
    let _watch = match recd_serve::experiment_watch::start(state.clone()) {
        Ok(task) => Some(AbortOnDrop(task)),
        Err(why) => {
            tracing::info!("{why}");
            None
        }
    };

    let (signalled_tx, mut signalled) = watch::channel(false);
    let app = recd_serve::app(state.clone());
    let server = recd_serve::run(listener, app, &state.config, tls, async move {
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
    stop_attribution.store(true, std::sync::atomic::Ordering::Release);
    if let Some((_, handle)) = attribution {
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
    }
    // Impressions still queued are appended before the log closes.
    if let Some((sink, _)) = impressions {
        tokio::task::spawn_blocking(move || sink.close())
            .await
            .context("closing the impressions log")?;
    }
    drop(catalog_follower);
    // Every acknowledged append was fsync'd before its 202; dropping the store closes the log.
    drop(state);
    drop(store);
    tracing::info!("stopped");
    Ok(())
}

/// The shared event bus `[bus] events` names, if any. With one, this process is a stateless
/// API: its features must be in the shared store that `recd stream` writes.
fn open_bus(config: &Config) -> anyhow::Result<Option<Arc<dyn recd_bus::EventBus>>> {
    if !config.bus.is_bus() {
        return Ok(None);
    }
    if config.features.store == "embedded" {
        anyhow::bail!(
            "bus.events = {:?} needs a shared feature store: set --feature-store redis://host:port \
             (features.store), which `recd stream` writes",
            config.bus.events
        );
    }
    let bus = recd_bus::open(config.bus.clone())
        .with_context(|| format!("event bus {:?}", config.bus.events))?;
    tracing::info!(
        events = %config.bus.events,
        partitions = bus.partitions(),
        "events go to the shared bus; `recd stream` applies them"
    );
    Ok(Some(bus))
}

/// Opens the data dir's impressions log and has the engine record every served answer there
/// (`None` when `[serve.impressions] enabled = false`).
#[allow(clippy::type_complexity)]
fn record_impressions(
    data_dir: &Path,
    config: &recd_online::impressions::ImpressionConfig,
    store: &recd_store::StoreConfig,
    online: &recd_online::Online,
) -> anyhow::Result<
    Option<(
        Arc<recd_online::impressions::LogSink>,
        Arc<recd_store::FileLog>,
    )>,
> {
    if !config.enabled {
        return Ok(None);
    }
    let dir = Store::impressions_dir(data_dir);
    let log = Arc::new(
        recd_store::FileLog::open(&dir, store.log())
            .with_context(|| format!("opening the impressions log {}", dir.display()))?,
    );
    let sink = Arc::new(
        recd_online::impressions::LogSink::start(log.clone(), config)
            .context("starting the impressions writer")?,
    );
    online.set_impressions(sink.clone());
    Ok(Some((sink, log)))
}

/// The gradual rollout: driven by this server, or in a fleet by one API process at a time;
/// over a remote model store, its decisions go to the store.
fn rollouts(
    data_dir: &Path,
    config: &recd_online::rollout::RolloutConfig,
    store: &recd_model_store::ModelStoreConfig,
    fleet: Option<(&dyn recd_bus::EventBus, &str)>,
    impressions: bool,
) -> anyhow::Result<recd_serve::rollout::Rollouts> {
    use recd_serve::rollout::Rollouts;
    if !config.enabled {
        return Ok(Rollouts::off());
    }
    if !impressions {
        tracing::info!(
            "serve.rollout: candidates are not rolled out automatically without impressions; `recd models promote` promotes them"
        );
        return Ok(Rollouts::off());
    }
    let rollouts = match fleet {
        Some((bus, features_store)) => {
            super::fleet_state::rollout(bus, features_store, config.clone())?
        }
        None => Rollouts::open(config.clone(), data_dir.join("rollout.json"))
            .map_err(anyhow::Error::msg)?,
    };
    let opened = super::model_store::Opened::open(store, data_dir)?;
    Ok(match opened.remote {
        Some(remote) => rollouts.over(Box::new(Remote(remote))),
        None => rollouts,
    })
}

/// A remote model store's registry, for the rollout (which runs on a blocking thread of the
/// server's runtime).
struct Remote(recd_model_store::remote::RemoteStore);

impl recd_serve::rollout::RemoteRegistry for Remote {
    fn change(&self, op: &recd_model::artifact::registry::Op) -> Result<(), String> {
        tokio::runtime::Handle::current()
            .block_on(self.0.change(op))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Aborts a background task when the server returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the attribution consumer over the event log and the impressions log.
fn attribute(
    store: &Arc<Store>,
    events: Vec<Arc<dyn recd_store::EventLog>>,
    impressions: Arc<dyn recd_store::EventLog>,
    config: &recd_online::impressions::ImpressionConfig,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<(
    Arc<recd_attribution::Attribution>,
    std::thread::JoinHandle<()>,
)> {
    let catalog = store.clone();
    let secs = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX / 4);
    recd_attribution::start(
        recd_attribution::Sources {
            events,
            impressions,
            category: Box::new(move |item: &str| {
                catalog
                    .catalog()
                    .get_item(item)
                    .ok()
                    .flatten()
                    .and_then(|i| i.category)
            }),
        },
        recd_attribution::AttributionConfig {
            window_ms: secs(config.attribution_window_secs),
            max_kept: config.attribution_max_kept,
            horizon_ms: secs(config.report_horizon_days.saturating_mul(86_400)),
            poll: Duration::from_millis(500),
        },
        now_ms(),
        stop,
    )
    .context("starting the attribution consumer")
}

/// Where the attribution reads the events that it joins to this process's impressions: the
/// data dir's log, or, with a bus, every partition of it (the click on an answer may reach
/// any API process). Each process still tallies only the answers it served.
fn attributed_events(
    store: &Arc<Store>,
    bus: Option<&dyn recd_bus::EventBus>,
) -> anyhow::Result<Vec<Arc<dyn recd_store::EventLog>>> {
    let Some(bus) = bus else {
        return Ok(vec![store.log().clone()]);
    };
    (0..bus.partitions())
        .map(|p| {
            let log: Arc<dyn recd_bus::BusPartition> = Arc::from(bus.reader(p)?);
            let log: Arc<dyn recd_store::EventLog> = log;
            Ok(log)
        })
        .collect::<Result<_, recd_bus::BusError>>()
        .context("reading the bus's partitions for attribution")
}

/// The event ids of the log's tail within `[serve] dedupe_window_secs`, so that a retry after
/// a restart is still recognised. Before the listener answers: a retry arriving during the
/// rebuild would otherwise be appended twice.
async fn rebuild_dedupe(
    store: &Arc<Store>,
    config: &recd_serve::ServeConfig,
) -> anyhow::Result<Arc<DedupeWindow>> {
    let log = store.log().clone();
    let window_ms =
        i64::try_from(config.dedupe_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let max_entries = config.dedupe_max_entries;
    let started = std::time::Instant::now();
    let window = tokio::task::spawn_blocking(move || {
        DedupeWindow::rebuild(log.as_ref(), window_ms, max_entries, now_ms())
    })
    .await
    .context("rebuilding the dedupe window")?
    .context("reading the log's tail for event ids")?;
    tracing::info!(
        n_ids = window.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "dedupe window rebuilt from the log"
    );
    Ok(Arc::new(window))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The start-up line that says how callers are authenticated (and whether anyone who can
/// reach the address may write), or the refusal to serve a non-loopback address to anyone
/// without `--insecure`.
fn auth_line(
    security: &recd_serve::auth::Security,
    addr: std::net::SocketAddr,
    serve: &recd_serve::ServeConfig,
) -> anyhow::Result<(bool, String)> {
    if security.enabled() {
        return Ok((
            false,
            format!(
                "auth: on, {} API key(s); admin routes need the admin scope",
                security.key_count()
            ),
        ));
    }
    if addr.ip().is_loopback() {
        return Ok((
            false,
            "auth: off (no API keys; admin routes answer only on loopback; `recd keys create` turns it on)"
                .into(),
        ));
    }
    if serve.auth.insecure {
        return Ok((
            true,
            format!(
                "auth: OFF on {addr} (--insecure): anyone who can reach this address can write the catalog and read every user's features"
            ),
        ));
    }
    anyhow::bail!(
        "refusing to serve {addr} without API keys: anyone could write the catalog. Create a key (`recd keys create --data-dir DIR --scope admin`), listen on 127.0.0.1, or pass --insecure"
    )
}

/// Resolves on SIGTERM or ctrl-c.
pub(crate) async fn shutdown_signal() {
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
