//! `recd train`: read the event log, fit every model, evaluate, publish a version, and move
//! `CURRENT` if the publish gate allows.

use std::path::PathBuf;

use anyhow::Context;
use recd_store::Store;

use crate::config::{Config, Override};
use recd_train::train::{self, Progress};

/// Flags of `recd train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The data dir (event log and catalog in, `models/` out).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Make the new model current even if it evaluates worse than the current one.
    #[arg(long)]
    pub force: bool,
    /// Train on all history, ignoring the configured window (unsets `train.window_days`).
    #[arg(long)]
    pub all: bool,
}

impl TrainArgs {
    /// The flags that set config keys.
    pub fn overrides(&self) -> Vec<Override> {
        let mut res = Vec::new();
        if self.all {
            res.push(Override {
                flag: "--all",
                key: "train.window_days",
                value: None,
            });
        }
        res
    }
}

/// Runs the subcommand.
pub fn run(args: TrainArgs, config: Config) -> anyhow::Result<()> {
    let Config {
        train: config,
        store,
        ..
    } = config;
    let store = Store::open(&args.data_dir, store)
        .with_context(|| format!("opening data dir {}", args.data_dir.display()))?;
    let models_dir = args.data_dir.join("models");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .build()
        .context("building the thread pool")?;
    let outcome = pool.install(|| {
        train::run(
            &store,
            &models_dir,
            &config,
            args.force,
            &Spinner::default(),
        )
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
    Ok(())
}

fn fmt_scores(scores: &[(String, f64)]) -> String {
    scores
        .iter()
        .map(|(k, s)| format!("{k} {s:.4}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Stage progress on stderr: one spinner per stage (hidden when stderr is not a terminal).
#[derive(Default)]
struct Spinner {
    bar: std::sync::Mutex<Option<indicatif::ProgressBar>>,
}

impl Progress for Spinner {
    fn start(&self, stage: &str) {
        let bar = indicatif::ProgressBar::new_spinner().with_message(format!("train: {stage}"));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        *self.bar.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
    }

    fn finish(&self, stage: &str, seconds: f64) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
        tracing::info!(stage, seconds = format!("{seconds:.2}"), "stage done");
    }
}
