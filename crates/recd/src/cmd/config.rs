//! `recd config show`: the effective configuration, every key with the layer that set it.

use crate::config::Loaded;

/// Subcommands of `recd config`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print every key's effective value and its origin (default, file, env or flag), from
    /// the `--config` file and the `RECD__*` environment of this invocation.
    Show,
}

/// Runs the subcommand.
pub fn run(command: ConfigCommand, loaded: &Loaded) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Show => print!("{}", loaded.show()?),
    }
    Ok(())
}
