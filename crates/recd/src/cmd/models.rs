//! `recd models list | show V | activate V | promote | rollback | gc`: the registry of trained
//! versions and its pointers (`CURRENT`, the `CANDIDATE`, the rollback history).

use std::path::PathBuf;

use anyhow::Context;
use recd_model::artifact::{Manifest, registry};
use recd_train::config::TrainConfig;

use crate::config::{self, Override};

/// Subcommands of `recd models`.
#[derive(Debug, clap::Subcommand)]
pub enum ModelsCommand {
    /// List versions, oldest first: `*` marks the current one, `+` the candidate, `<` the one
    /// a rollback returns to.
    List {
        /// The data dir.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Print a version's manifest.
    Show {
        /// The data dir.
        #[arg(long)]
        data_dir: PathBuf,
        /// The version.
        version: String,
    },
    /// Make a version current (roll back or forward); its checksums are verified first.
    Activate {
        /// The data dir.
        #[arg(long)]
        data_dir: PathBuf,
        /// The version.
        version: String,
    },
    /// Make the candidate current; the old current becomes the rollback target.
    Promote {
        /// The data dir.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Make the previous current version current again.
    Rollback {
        /// The data dir.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Delete versions older than the newest `[train] keep_versions` (never the current one,
    /// the candidate or the rollback target).
    Gc {
        /// The data dir.
        #[arg(long)]
        data_dir: PathBuf,
        /// Keep this many newest versions (sets `train.keep_versions`; 0 keeps all).
        #[arg(long)]
        keep: Option<usize>,
    },
}

impl ModelsCommand {
    /// The flags that set config keys.
    pub fn overrides(&self) -> Vec<Override> {
        match self {
            ModelsCommand::Gc {
                keep: Some(keep), ..
            } => vec![config::flag(
                "--keep",
                "train.keep_versions",
                &keep.to_string(),
            )],
            _ => Vec::new(),
        }
    }
}

/// Runs the subcommand; `gc` reads `[train] keep_versions`.
pub fn run(command: ModelsCommand, train: &TrainConfig) -> anyhow::Result<()> {
    match command {
        ModelsCommand::List { data_dir } => list(&data_dir.join("models"))?,
        ModelsCommand::Show { data_dir, version } => {
            let dir = registry::version_dir(&data_dir.join("models"), &version);
            let m = Manifest::read(&dir).with_context(|| format!("model {version}"))?;
            println!("{}", serde_json::to_string_pretty(&m)?);
        }
        ModelsCommand::Activate { data_dir, version } => {
            registry::activate(&data_dir.join("models"), &version)?;
            println!("current model is now {version}");
        }
        ModelsCommand::Promote { data_dir } => {
            let change = registry::promote(&data_dir.join("models"))?;
            println!(
                "promoted candidate {} to current{}",
                change.version,
                replaced(&change)
            );
        }
        ModelsCommand::Rollback { data_dir } => {
            let change = registry::rollback(&data_dir.join("models"))?;
            println!(
                "rolled back: current model is now {}{}",
                change.version,
                replaced(&change)
            );
        }
        ModelsCommand::Gc { data_dir, .. } => {
            let deleted = registry::gc(&data_dir.join("models"), train.keep_versions)?;
            for version in &deleted {
                println!("deleted {version}");
            }
            println!(
                "{} versions deleted (keeping the newest {})",
                deleted.len(),
                train.keep_versions
            );
        }
    }
    Ok(())
}

fn replaced(change: &registry::Change) -> String {
    change
        .replaced
        .as_ref()
        .map_or(String::new(), |old| format!(" (was {old})"))
}

fn list(models: &std::path::Path) -> anyhow::Result<()> {
    let state = registry::state(models)?;
    for m in registry::list(models)? {
        let v = Some(m.version.as_str());
        let (mark, role) = if state.current.as_deref() == v {
            ("*", "  current")
        } else if state.candidate.as_deref() == v {
            ("+", "  candidate")
        } else if state.rollback_target() == v {
            ("<", "  previous")
        } else {
            (" ", "")
        };
        let ndcg = m
            .pipeline_ndcg()
            .map_or("-".to_string(), |v| format!("{v:.4}"));
        println!("{mark} {}  NDCG@10 {ndcg}{role}", m.version);
    }
    Ok(())
}
