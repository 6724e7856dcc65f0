//! `recd export` (being implemented).

/// Flags of this subcommand.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {}

/// Runs the subcommand.
pub fn run(_args: ExportArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
