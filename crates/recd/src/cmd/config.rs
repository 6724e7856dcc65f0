//! `recd config show`: the effective configuration, every key with the layer that set it.

use anyhow::Context;

use crate::config::Loaded;

/// Subcommands of `recd config`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print every key's effective value and its origin (default, file, env or flag), from
    /// the `--config` file and the `RECD__*` environment of this invocation.
    Show {
        /// Print the effective values alone, as one JSON object (what `spark/train_als.py`
        /// reads its event weights and ALS parameters from).
        #[arg(long)]
        json: bool,
    },
}

/// Runs the subcommand.
pub fn run(command: ConfigCommand, loaded: &Loaded) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Show { json: false } => print!("{}", loaded.show()?),
        ConfigCommand::Show { json: true } => println!(
            "{}",
            serde_json::to_string_pretty(&loaded.config).context("encoding the configuration")?
        ),
    }
    Ok(())
}
