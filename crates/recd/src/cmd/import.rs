//! `recd import` (being implemented).

/// Flags of this subcommand.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {}

/// Runs the subcommand.
pub fn run(_args: ImportArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
