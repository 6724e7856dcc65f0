//! `recd bench` (being implemented).

/// Flags of this subcommand.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {}

/// Runs the subcommand.
pub fn run(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
