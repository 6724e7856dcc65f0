//! `recd models list | show V | activate V | promote | rollback | gc`: the registry of trained
//! versions and its pointers (`CURRENT`, the `CANDIDATE`, the rollback history), in the store
//! `[models] store` names: a directory (the data dir's `models/` by default) or a remote store,
//! where each change is one conditional write of its registry object.

use std::path::{Path, PathBuf};

use anyhow::Context;
use recd_model::artifact::registry::Op;
use recd_model::artifact::{Manifest, registry};
use recd_model_store::remote::RemoteStore;

use super::model_store::{self, Opened};
use crate::config::{self, Config, Override};

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
    /// Make a version the candidate (what a gradual rollout serves beside the current one);
    /// its checksums are verified first. The current version does not move.
    Stage {
        /// The data dir.
        #[arg(long)]
        data_dir: PathBuf,
        /// The version.
        version: String,
    },
    /// Empty the candidate slot (the version stays, as an ordinary one).
    Reject {
        /// The data dir.
        #[arg(long)]
        data_dir: PathBuf,
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

/// Runs the subcommand on the store `[models]` names; `gc` reads `[train] keep_versions`.
pub fn run(command: ModelsCommand, config: &Config) -> anyhow::Result<()> {
    let data_dir = match &command {
        ModelsCommand::List { data_dir }
        | ModelsCommand::Show { data_dir, .. }
        | ModelsCommand::Activate { data_dir, .. }
        | ModelsCommand::Stage { data_dir, .. }
        | ModelsCommand::Reject { data_dir }
        | ModelsCommand::Promote { data_dir }
        | ModelsCommand::Rollback { data_dir }
        | ModelsCommand::Gc { data_dir, .. } => data_dir.clone(),
    };
    let store = Opened::open(&config.models, &data_dir)?;
    match &store.remote {
        Some(remote) => model_store::runtime()?.block_on(remote_run(
            command,
            remote,
            config.train.keep_versions,
        )),
        None => local_run(
            command,
            &store.local_dir(&data_dir),
            config.train.keep_versions,
        ),
    }
}

fn local_run(command: ModelsCommand, models: &Path, keep_versions: usize) -> anyhow::Result<()> {
    match command {
        ModelsCommand::List { .. } => list(models)?,
        ModelsCommand::Show { version, .. } => {
            let dir = registry::version_dir(models, &version);
            let m = Manifest::read(&dir).with_context(|| format!("model {version}"))?;
            println!("{}", serde_json::to_string_pretty(&m)?);
        }
        ModelsCommand::Activate { version, .. } => {
            registry::activate(models, &version)?;
            println!("current model is now {version}");
        }
        ModelsCommand::Stage { version, .. } => {
            let op = Op::Stage(version);
            print_change(&registry::change(models, &op)?, &op)
        }
        ModelsCommand::Reject { .. } => {
            print_change(&registry::change(models, &Op::Reject)?, &Op::Reject)
        }
        ModelsCommand::Promote { .. } => print_change(&registry::promote(models)?, &Op::Promote),
        ModelsCommand::Rollback { .. } => print_change(&registry::rollback(models)?, &Op::Rollback),
        ModelsCommand::Gc { .. } => {
            let deleted = registry::gc(models, keep_versions)?;
            for version in &deleted {
                println!("deleted {version}");
            }
            println!(
                "{} versions deleted (keeping the newest {keep_versions})",
                deleted.len(),
            );
        }
    }
    Ok(())
}

/// The same commands on a remote store: each registry change is one conditional write.
async fn remote_run(
    command: ModelsCommand,
    remote: &RemoteStore,
    keep_versions: usize,
) -> anyhow::Result<()> {
    match command {
        ModelsCommand::List { .. } => {
            let state = remote.state().await?;
            for version in remote.versions().await? {
                let m = remote.manifest(&version).await?;
                println!("{}", list_line(&state, &m));
            }
        }
        ModelsCommand::Show { version, .. } => {
            let m = remote
                .manifest(&version)
                .await
                .with_context(|| format!("model {version}"))?;
            println!("{}", serde_json::to_string_pretty(&m)?);
        }
        ModelsCommand::Activate { version, .. } => {
            remote.change(&Op::Activate(version.clone())).await?;
            println!("current model is now {version} in {}", remote.url());
        }
        ModelsCommand::Stage { version, .. } => {
            let op = Op::Stage(version);
            print_change(&remote.change(&op).await?, &op)
        }
        ModelsCommand::Reject { .. } => {
            print_change(&remote.change(&Op::Reject).await?, &Op::Reject)
        }
        ModelsCommand::Promote { .. } => {
            print_change(&remote.change(&Op::Promote).await?, &Op::Promote)
        }
        ModelsCommand::Rollback { .. } => {
            print_change(&remote.change(&Op::Rollback).await?, &Op::Rollback)
        }
        ModelsCommand::Gc { .. } => {
            let deleted = remote.gc(keep_versions).await?;
            for version in &deleted {
                println!("deleted {version}");
            }
            println!(
                "{} versions deleted from {} (keeping the newest {keep_versions})",
                deleted.len(),
                remote.url()
            );
        }
    }
    Ok(())
}

fn print_change(change: &registry::Change, op: &Op) {
    match op {
        Op::Rollback => println!(
            "rolled back: current model is now {}{}",
            change.version,
            replaced(change)
        ),
        Op::Stage(_) => println!(
            "candidate model is now {}{}",
            change.version,
            replaced(change)
        ),
        Op::Reject => println!(
            "rejected candidate {}: no candidate now; the current model did not change",
            change.version
        ),
        Op::Activate(_) | Op::Promote => println!(
            "promoted candidate {} to current{}",
            change.version,
            replaced(change)
        ),
    }
}

fn replaced(change: &registry::Change) -> String {
    change
        .replaced
        .as_ref()
        .map_or(String::new(), |old| format!(" (was {old})"))
}

fn list(models: &Path) -> anyhow::Result<()> {
    let state = registry::state(models)?;
    for m in registry::list(models)? {
        println!("{}", list_line(&state, &m));
    }
    Ok(())
}

/// One version's line of `recd models list`.
fn list_line(state: &registry::RegistryState, m: &Manifest) -> String {
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
    format!("{mark} {}  NDCG@10 {ndcg}{role}", m.version)
}
