//! `recd train`: read the event log, fit every model, evaluate, publish a version, and move
//! `CURRENT` if the publish gate allows.

use std::path::PathBuf;

use anyhow::Context;
use recd_store::{Store, StoreConfig};
use recd_train::config::TrainConfig;
use recd_train::train::{self, Progress};

/// Flags of `recd train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The data dir (event log and catalog in, `models/` out).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// A TOML file whose `[train]` section overrides the defaults (see config/recd.example.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Make the new model current even if it evaluates worse than the current one.
    #[arg(long)]
    pub force: bool,
    /// Train on all history, ignoring the configured window.
    #[arg(long)]
    pub all: bool,
}

/// Runs the subcommand.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => load_train_config(path)?,
        None => TrainConfig::default(),
    };
    if args.all {
        config.window_days = None;
    }
    let store = Store::open(&args.data_dir, StoreConfig::default())
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

/// Reads the `[train]` table of a TOML config file; unknown keys in it are errors.
pub fn load_train_config(path: &std::path::Path) -> anyhow::Result<TrainConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    match table.get("train") {
        Some(section) => section
            .clone()
            .try_into()
            .with_context(|| format!("{}: section [train]", path.display())),
        None => Ok(TrainConfig::default()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_train_section_equals_the_defaults() {
        let path = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/recd.example.toml"
        ));
        assert_eq!(load_train_config(path).unwrap(), TrainConfig::default());
    }

    #[test]
    fn unknown_train_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recd.toml");
        std::fs::write(
            &path,
            "[train.als]
factorz = 8\n",
        )
        .unwrap();
        let err = format!("{:#}", load_train_config(&path).unwrap_err());
        assert!(err.contains("factorz"), "{err}");
    }
}
