//! `recd events ...` (being implemented).

/// Subcommands of `recd events`.
#[derive(Debug, clap::Subcommand)]
pub enum EventsCommand {
    /// Print the last records of the log.
    Tail {},
}

/// Runs the subcommand.
pub fn run(_command: EventsCommand) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
