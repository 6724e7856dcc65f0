//! `recd serve` (being implemented).

/// Flags of this subcommand.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

/// Runs the subcommand.
pub fn run(_args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
