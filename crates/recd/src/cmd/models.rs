//! `recd models list | show V | activate V`: the registry of trained versions.

use std::path::PathBuf;

use anyhow::Context;
use recd_model::artifact::{Manifest, registry};

/// Subcommands of `recd models`.
#[derive(Debug, clap::Subcommand)]
pub enum ModelsCommand {
    /// List versions, oldest first; `*` marks the current one.
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
}

/// Runs the subcommand.
pub fn run(command: ModelsCommand) -> anyhow::Result<()> {
    match command {
        ModelsCommand::List { data_dir } => {
            let models = data_dir.join("models");
            let current = registry::current(&models)?;
            for m in registry::list(&models)? {
                let mark = if current.as_deref() == Some(m.version.as_str()) {
                    "*"
                } else {
                    " "
                };
                let ndcg = m
                    .pipeline_ndcg()
                    .map_or("-".to_string(), |v| format!("{v:.4}"));
                println!("{mark} {}  NDCG@10 {ndcg}", m.version);
            }
        }
        ModelsCommand::Show { data_dir, version } => {
            let dir = registry::version_dir(&data_dir.join("models"), &version);
            let m = Manifest::read(&dir).with_context(|| format!("model {version}"))?;
            println!("{}", serde_json::to_string_pretty(&m)?);
        }
        ModelsCommand::Activate { data_dir, version } => {
            registry::activate(&data_dir.join("models"), &version)?;
            println!("current model is now {version}");
        }
    }
    Ok(())
}
