//! `recd recommend`: batch recommendations for a list of users, answered by the same engine
//! as `recd serve` (`recd-online`, in its deterministic mode), written as
//! `user_id,item_id,rank,score,source,reason,request_id,variant` (the offline protocol's three
//! columns first).
//!
//! It reads the data dir as every reader does, beside a running server or without one: the
//! log up to its published durable end, the catalog and profiles rebuilt from the log's
//! records, and the user state from the configured feature store — Redis as the server's
//! updater keeps it, or, embedded, the log replayed into a fresh store by the same updater
//! (within the feature TTL, fold-in included). Each user's request id is derived from the
//! user id and written out: asking the server with that `request_id` returns the same list
//! for the same state.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use recd_model::artifact::registry;
use recd_online::catalog_view::CatalogView;
use recd_online::model_watch::Served;
use recd_online::{Answer, LogCatalog, Mode, Online, Request};
use recd_store::{EventLog, Store};
use recd_stream::{AlsFoldIn, CategoryLookup, SharedFactors, Updater};
use recd_types::{ItemId, UserId};

use crate::config::Config;

/// Flags of `recd recommend`.
#[derive(Debug, clap::Args)]
pub struct RecommendArgs {
    /// The data dir whose current model, log and features are used.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// A CSV file with a `user_id` column (other columns are ignored; duplicates are fine).
    #[arg(long)]
    pub users: PathBuf,
    /// Items per user.
    #[arg(long, default_value_t = 10)]
    pub n: usize,
    /// Output CSV.
    #[arg(long)]
    pub out: PathBuf,
    /// Use this model version instead of the current one.
    #[arg(long)]
    pub model: Option<String>,
    /// The `context` of every request (pinned items are per context).
    #[arg(long, default_value = "homepage")]
    pub context: String,
    /// The `device` of every request, as a client would send it.
    #[arg(long)]
    pub device: Option<String>,
    /// The moment the lists are for (the ranker's time-of-day and session features): RFC
    /// 3339, YYYY-MM-DD (UTC) or integer ms. Without it, each list is for the user's next
    /// visit, taken to continue their newest known event.
    #[arg(long, value_parser = recd_io::parse_time_bound)]
    pub at: Option<i64>,
}

/// Requests in flight at once: enough to keep every compute thread busy.
const IN_FLIGHT: usize = 64;

/// Runs the subcommand.
pub fn run(args: RecommendArgs, config: Config) -> anyhow::Result<()> {
    anyhow::ensure!(args.n > 0, "--n must be at least 1");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(batch(args, config))
}

async fn batch(args: RecommendArgs, config: Config) -> anyhow::Result<()> {
    let users = read_user_ids(&args.users)?;
    let (online, served, _) = engine(&args.data_dir, config, args.model.clone()).await?;
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let mut answers: Vec<(UserId, Arc<Answer>)> = Vec::with_capacity(users.len());
    for chunk in users.chunks(IN_FLIGHT) {
        let mut tasks = tokio::task::JoinSet::new();
        for (k, user) in chunk.iter().enumerate() {
            let request = Request {
                user_id: user.clone(),
                n: args.n,
                context: args.context.clone(),
                device: args.device.clone(),
                category: None,
                request_id: Some(request_id_of(user)),
                now_ms,
                at_ms: args.at,
                mode: Mode::Deterministic,
                offset: 0,
            };
            let online = online.clone();
            tasks.spawn(async move { (k, online.recommend(request).await) });
        }
        let mut done = tasks.join_all().await;
        done.sort_by_key(|(k, _)| *k);
        for ((_, answer), user) in done.into_iter().zip(chunk) {
            let answer = answer.with_context(|| format!("recommending for user {user}"))?;
            answers.push((user.clone(), answer));
        }
    }
    write(&args.out, &answers)?;
    let known = users
        .iter()
        .filter(|u| served.model.users.get(u.as_str()).is_some())
        .count();
    let rc = online.config();
    let exploration = if rc.exploration_share > 0.0 {
        format!(
            "exploration {} of the slots, seeded by each request id",
            rc.exploration_share
        )
    } else {
        "exploration off".to_string()
    };
    println!(
        "wrote {} recommendations for {} users ({} known to model {}) to {}; engine in deterministic mode (no deadline, no answer cache), {exploration}, diversity {:?}",
        answers.iter().map(|(_, a)| a.items.len()).sum::<usize>(),
        answers.len(),
        known,
        served.version(),
        args.out.display(),
        rc.diversity,
    );
    Ok(())
}

/// The online engine over a data dir, read as every reader reads it (beside a running server
/// or without one): the log up to its published durable end, the catalog rebuilt from the
/// log's catalog records, the user state from the configured feature store (Redis as the
/// server's updater keeps it, or, embedded, the log replayed into a fresh store by the same
/// updater, fold-in included), the model `version` (default: the registry's current one) and
/// the configured experiments.
pub async fn engine(
    data_dir: &Path,
    config: Config,
    version: Option<String>,
) -> anyhow::Result<(Arc<Online>, Arc<Served>, Arc<LogCatalog>)> {
    let store = super::model_store::Opened::open(&config.models, data_dir)?;
    let models_dir = store.local_dir(data_dir);
    store.pull_into(&models_dir, false).await?;
    let version = match version {
        Some(v) => v,
        None => registry::current(&models_dir)?.with_context(|| {
            format!(
                "no current model in {}; run `recd train` first",
                models_dir.display()
            )
        })?,
    };
    let dir = data_dir.to_path_buf();
    let (log, catalog) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let log = Store::open_log_reader(&dir)
            .with_context(|| format!("opening the log of {}", dir.display()))?;
        let catalog = LogCatalog::read(&log)
            .with_context(|| format!("reading the catalog from the log of {}", dir.display()))?;
        Ok((Arc::new(log) as Arc<dyn EventLog>, Arc::new(catalog)))
    })
    .await??;
    let (m, v, c) = (models_dir.clone(), version.clone(), catalog.clone());
    let served = tokio::task::spawn_blocking(move || Served::load(&m, &v, false, &*c))
        .await?
        .with_context(|| format!("loading model {version}"))?;
    let view = CatalogView::build(&served.model, &*catalog)?;
    let served = Arc::new(served);
    let ttl_ms = config.features.user_ttl_ms();
    let embedded = config.features.store == "embedded";
    let features = super::online::open_features(config.features)?;
    if embedded {
        let factors = Arc::new(SharedFactors::default());
        factors.set(super::online::item_factors(&served));
        let mut updater = Updater::new(
            log,
            features.clone(),
            Arc::new(LogCategories(catalog.clone())),
            Some(Arc::new(AlsFoldIn::new(
                factors,
                config.stream.fold_in.clone(),
            ))),
            config.stream,
        )
        .with_replay_horizon(ttl_ms);
        updater
            .catch_up()
            .await
            .context("replaying the log into the feature store")?;
    }
    let experiments = recd_online::experiments::Experiments::compile(
        &config.experiments,
        &config.serve.recommend,
    )?;
    let online = Arc::new(Online::new(
        config.serve.recommend,
        features,
        catalog.clone(),
    ));
    online.set_experiments(experiments);
    online.models.set(Some(served.clone()));
    online.models.set_catalog(Arc::new(view));
    Ok((online, served, catalog))
}

/// The request id of a user's batch answer: derived from the user id, so that a rerun (and a
/// request to the server with this id) replays the same exploration slots.
pub fn request_id_of(user: &UserId) -> String {
    format!(
        "batch-{:016x}",
        recd_online::recommend::seed_of(user.as_str())
    )
}

fn write(path: &Path, answers: &[(UserId, Arc<Answer>)]) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    w.write_record([
        "user_id",
        "item_id",
        "rank",
        "score",
        "source",
        "reason",
        "request_id",
        "variant",
    ])?;
    for (user, answer) in answers {
        for (rank, item) in answer.items.iter().enumerate() {
            w.write_record([
                user.as_str(),
                &item.item_id,
                &(rank + 1).to_string(),
                &item.score.to_string(),
                item.source,
                &item.reason,
                &answer.request_id,
                answer.variant.as_deref().unwrap_or(""),
            ])?;
        }
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    let mut inner = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {}", path.display(), e.error()))?;
    inner.flush()?;
    Ok(())
}

/// Item categories (for the features' session and trending state) from the log's catalog.
struct LogCategories(Arc<LogCatalog>);

impl CategoryLookup for LogCategories {
    fn category(&self, item: &ItemId) -> Option<String> {
        self.0.item(item.as_str()).and_then(|i| i.category.clone())
    }
}

/// The distinct user ids of the file's `user_id` column, in id order; a bad id is an error
/// naming its line.
fn read_user_ids(path: &Path) -> anyhow::Result<Vec<UserId>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let col = reader
        .headers()
        .with_context(|| format!("{}: reading the header", path.display()))?
        .iter()
        .position(|h| h.trim() == "user_id")
        .with_context(|| format!("{}:1: no `user_id` column in the header", path.display()))?;
    let mut users = std::collections::BTreeSet::new();
    for (k, row) in reader.records().enumerate() {
        let line = k + 2;
        let row = row.with_context(|| format!("{}:{line}: bad CSV row", path.display()))?;
        let id = row.get(col).map(str::trim).unwrap_or("");
        let id = UserId::parse(id.to_string()).map_err(|e| {
            anyhow::anyhow!(
                "{}:{line}:{}: field `user_id`: {e}",
                path.display(),
                col + 1
            )
        })?;
        users.insert(id);
    }
    Ok(users.into_iter().collect())
}
