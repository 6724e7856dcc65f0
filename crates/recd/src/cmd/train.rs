//! `recd train`: read the event log (or, for a fleet, the event bus), fit every model,
//! evaluate, publish a version, and move `CURRENT` if the publish gate allows.

use std::path::PathBuf;

use anyhow::Context;
use recd_store::Store;

use recd_model::artifact::registry::Op;

use super::model_store::{self, Opened};
use crate::config::{Config, Override};
use recd_train::train::{self, Progress};

mod als_from;

/// Flags of `recd train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The data dir (event log and catalog in, `models/` out).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Make the new model current even if it evaluates worse than the current one.
    #[arg(long)]
    pub force: bool,
    /// Train on all history, ignoring the configured window (sets `train.window_days` to 0).
    #[arg(long)]
    pub all: bool,
    /// Also write the result (version, activation, the gate's numbers) as JSON to this file:
    /// how a server that started the run learns how it went.
    #[arg(long)]
    pub outcome: Option<PathBuf>,
    /// Use the ALS factors in this directory (written by `spark/train_als.py`) instead of
    /// fitting ALS; everything else is trained as usual. Users without a vector are folded
    /// in, items without one get the zero vector.
    #[arg(long, value_name = "DIR")]
    pub als_from: Option<PathBuf>,
    /// Train on a fleet's event bus instead of the data dir's log: `redis://host:port`,
    /// `redis+cluster://host:port,...` or `kafka://host:port,.../topic` (sets `bus.events`).
    /// Its partitions are read whole (the bus's retention bounds them) and items come from
    /// its catalog channel; the training lock is then the fleet's, on the feature store.
    #[arg(long)]
    pub events: Option<String>,
    /// The fleet's Redis, which holds its training lock when training on a bus (sets
    /// `features.store`).
    #[arg(long)]
    pub feature_store: Option<String>,
}

impl TrainArgs {
    /// The flags that set config keys.
    pub fn overrides(&self) -> Vec<Override> {
        let mut res = Vec::new();
        if self.all {
            res.push(crate::config::flag("--all", "train.window_days", "0"));
        }
        if let Some(events) = &self.events {
            res.push(crate::config::flag("--events", "bus.events", events));
        }
        if let Some(store) = &self.feature_store {
            res.push(crate::config::flag(
                "--feature-store",
                "features.store",
                store,
            ));
        }
        res
    }
}

/// Runs the subcommand.
pub fn run(args: TrainArgs, config: Config) -> anyhow::Result<()> {
    let Config {
        train: config,
        models,
        bus,
        features,
        ..
    } = config;
    if !args.data_dir.is_dir() {
        anyhow::bail!("data dir {} does not exist", args.data_dir.display());
    }
    let store = Opened::open(&models, &args.data_dir)?;
    let als_from = match &args.als_from {
        Some(dir) => Some(
            als_from::load(dir, config.refit_on_full)
                .with_context(|| format!("loading the ALS factors of {}", dir.display()))?,
        ),
        None => None,
    };
    let _lock = lock_training(&args.data_dir)?;
    // What answers showed, for the ranker's negatives: the data dir's own impressions (a
    // fleet's stay in each API process's data dir, so a training on the bus goes without).
    let impressions = impressions_log(&args.data_dir, bus.is_bus())?;
    let input = Input::open(&args.data_dir, bus, &features.store)?;
    let models_dir = store.location.train_dir(&args.data_dir);
    let runtime = match &store.remote {
        Some(_) => Some(model_store::runtime()?),
        None => None,
    };
    if let Some(rt) = &runtime {
        // The gate compares with the store's CURRENT, so it must be here first.
        rt.block_on(store.pull_into(&models_dir, false))?;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .build()
        .context("building the thread pool")?;
    let options = train::RunOptions {
        force: args.force,
        als_from: als_from.as_ref(),
        impressions: impressions.as_ref().map(|l| l as &dyn recd_store::EventLog),
    };
    let outcome = pool
        .install(|| {
            train::run(
                &input.source(),
                &models_dir,
                &config,
                &options,
                &Bars::default(),
            )
        })
        .map_err(|e| {
            let theirs = matches!(e, recd_train::TrainError::ExternalAls(_));
            match &args.als_from {
                Some(dir) if theirs => {
                    anyhow::Error::new(e).context(format!("--als-from {}", dir.display()))
                }
                _ => e.into(),
            }
        })?;
    println!(
        "model {} written to {}",
        outcome.version,
        outcome.dir.display()
    );
    println!(
        "ranker: {} (validation NDCG@10 within candidates: {})",
        outcome.ranker.0,
        fmt_scores(&outcome.ranker.1)
    );
    println!("{}", recd_train::report_table(&outcome.metrics));
    println!("{}", outcome.decision);
    if let (Some(rt), Some(remote)) = (&runtime, &store.remote) {
        let op = match (outcome.activated, outcome.candidate) {
            (true, _) => Some(Op::Activate(outcome.version.clone())),
            (false, true) => Some(Op::Stage(outcome.version.clone())),
            (false, false) => None,
        };
        let change = rt.block_on(model_store::publish(
            remote,
            &models_dir,
            &outcome.version,
            op,
        ))?;
        let placed = match change {
            Some(_) if outcome.activated => "as CURRENT",
            Some(_) => "as the CANDIDATE",
            None => "(not activated)",
        };
        println!(
            "model {} published to {} {placed}",
            outcome.version,
            remote.url()
        );
    }
    if let Some(path) = &args.outcome {
        write_outcome(path, &outcome)?;
    }
    Ok(())
}

/// Takes the data dir's training lock (`DATA/train.lock`, held until the process ends): two
/// trainings never overlap, whoever started them.
/// What training reads: the data dir's log (read-only: training runs beside a server that
/// owns the data dir), or a fleet's bus, with the fleet's training lock held.
enum Input {
    Log(recd_store::ReadOnlyLog),
    Bus {
        partitions: Vec<Box<dyn recd_bus::BusPartition>>,
        catalog: Box<dyn recd_bus::BusPartition>,
        _lock: recd_bus::FleetLock,
    },
}

/// Another training of the fleet holds its training lock: this one did not run (the process
/// exits with [`recd_serve::jobs::EXIT_BUSY`]).
#[derive(Debug)]
pub struct Busy(String);

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Busy {}

/// How long the fleet's training lock outlives a training process that died.
const FLEET_LOCK_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

impl Input {
    fn open(
        data_dir: &std::path::Path,
        bus: recd_bus::BusConfig,
        features_store: &str,
    ) -> anyhow::Result<Self> {
        if !bus.is_bus() {
            let log = Store::open_log_reader(data_dir)
                .with_context(|| format!("opening the event log of {}", data_dir.display()))?;
            return Ok(Input::Log(log));
        }
        if features_store == "embedded" {
            anyhow::bail!(
                "training on bus.events = {:?} takes the fleet's training lock on its Redis: set                  --feature-store redis://host:port (features.store)",
                bus.events
            );
        }
        let events = bus.events.clone();
        let lock = recd_bus::FleetLock::try_acquire(
            features_store,
            "features.store",
            &bus,
            "train",
            FLEET_LOCK_LEASE,
        )
        .context("taking the fleet's training lock")?
        .ok_or_else(|| {
            anyhow::Error::new(Busy(format!(
                "another training of this fleet is running (the lock {}:{{train}}:lock on {features_store} is held); wait for it to finish",
                bus.prefix
            )))
        })?;
        let bus = recd_bus::open(bus).with_context(|| format!("event bus {events:?}"))?;
        let partitions = (0..bus.partitions())
            .map(|p| bus.reader(p))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("reading the partitions of {events:?}"))?;
        let catalog = bus
            .catalog_reader()
            .with_context(|| format!("reading the catalog channel of {events:?}"))?;
        tracing::info!(events = %events, partitions = partitions.len(), "training on the fleet's event bus");
        Ok(Input::Bus {
            partitions,
            catalog,
            _lock: lock,
        })
    }

    fn source(&self) -> recd_train::dataset::Source<'_> {
        match self {
            Input::Log(log) => recd_train::dataset::Source::Log(log),
            Input::Bus {
                partitions,
                catalog,
                ..
            } => recd_train::dataset::Source::Bus {
                partitions: partitions
                    .iter()
                    .map(|p| p.as_ref() as &dyn recd_store::EventLog)
                    .collect(),
                catalog: catalog.as_ref(),
            },
        }
    }
}

fn lock_training(data_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let path = data_dir.join("train.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another training is running on {} ({} is locked); wait for it to finish",
            data_dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

fn write_outcome(path: &std::path::Path, outcome: &train::TrainOutcome) -> anyhow::Result<()> {
    let gate = &outcome.gate;
    let out = recd_api::TrainOutcomeOut {
        version: outcome.version.clone(),
        activated: outcome.activated,
        candidate: outcome.candidate,
        gate: recd_api::GateOut {
            candidate_ndcg: gate.candidate_ndcg,
            current_version: gate.current_version.clone(),
            current_ndcg: gate.current_ndcg,
            method: Some(gate.method.as_str().to_string()),
            users: Some(gate.users as u64),
            decision: outcome.decision.clone(),
        },
    };
    let text = serde_json::to_string_pretty(&out).context("encoding the outcome")?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn fmt_scores(scores: &[(String, f64)]) -> String {
    scores
        .iter()
        .map(|(k, s)| format!("{k} {s:.4}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Training progress on stderr: per stage a spinner, which becomes a bar with an ETA while
/// the stage counts units (ALS iterations, ranker epochs, evaluated users). Bars are hidden
/// when stderr is not a terminal; the log then gets a line with the ETA at each quarter.
#[derive(Default)]
struct Bars {
    state: std::sync::Mutex<Option<StageBar>>,
}

struct StageBar {
    stage: String,
    bar: indicatif::ProgressBar,
    /// The units being counted, when they started, and the last quarter logged.
    units: Option<(String, std::time::Instant, u64)>,
}

impl Bars {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<StageBar>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Progress for Bars {
    fn start(&self, stage: &str) {
        let bar = indicatif::ProgressBar::new_spinner().with_message(format!("train: {stage}"));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        *self.lock() = Some(StageBar {
            stage: stage.to_string(),
            bar,
            units: None,
        });
    }

    fn advance(&self, units: &str, done: u64, total: u64) {
        let mut guard = self.lock();
        let Some(s) = guard.as_mut() else { return };
        if s.units.as_ref().is_none_or(|(u, _, _)| u != units) {
            let style = indicatif::ProgressStyle::with_template(
                "{msg} {pos}/{len} [{bar:30}] {elapsed} elapsed, ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            s.bar.set_style(style);
            s.bar.set_message(format!("train: {}: {units}", s.stage));
            s.bar.set_length(total);
            s.bar.reset();
            s.units = Some((units.to_string(), std::time::Instant::now(), 0));
        }
        s.bar.set_position(done);
        let Some((_, started, logged)) = s.units.as_mut() else {
            return;
        };
        let quarter = done * 4 / total.max(1);
        if quarter > *logged && done < total {
            *logged = quarter;
            let elapsed = started.elapsed().as_secs_f64();
            let eta_secs = elapsed * (total - done) as f64 / done.max(1) as f64;
            tracing::info!(
                stage = s.stage,
                units,
                done,
                total,
                eta_secs = format!("{eta_secs:.0}"),
                "training progress"
            );
        }
    }

    fn finish(&self, stage: &str, seconds: f64) {
        if let Some(s) = self.lock().take() {
            s.bar.finish_and_clear();
        }
        tracing::info!(stage, seconds = format!("{seconds:.2}"), "stage done");
    }
}

/// The data dir's impressions log, read-only, when there is one and training reads the data
/// dir's events.
fn impressions_log(
    data_dir: &std::path::Path,
    on_bus: bool,
) -> anyhow::Result<Option<recd_store::ReadOnlyLog>> {
    let dir = recd_store::Store::impressions_dir(data_dir);
    if on_bus || !dir.is_dir() {
        return Ok(None);
    }
    recd_store::ReadOnlyLog::open(&dir)
        .map(Some)
        .with_context(|| format!("opening the impressions log {}", dir.display()))
}
