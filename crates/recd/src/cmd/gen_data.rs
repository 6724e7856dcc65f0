//! `recd gen_data` (being implemented).

/// Flags of this subcommand.
#[derive(Debug, clap::Args)]
pub struct GenArgs {}

/// Runs the subcommand.
pub fn run(_args: GenArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
