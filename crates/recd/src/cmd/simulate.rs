//! `recd simulate`: users of a generated world ask a running server for recommendations on
//! their session's device and act on them by their hidden taste and that device, as in the
//! generated history; one JSON summary line, per serving variant too. The
//! simulation is `recd_loadgen::simulate`; this file builds the world from the same flags as
//! `recd gen` and prints the report.

use std::sync::Arc;

use anyhow::Context as _;
use recd_gen::Generator;
use recd_loadgen::simulate::{self, SimConfig};

use super::gen_data::WorldArgs;

/// Flags of `recd simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// The `recd serve` to drive: http://HOST:PORT. It must serve data from `recd gen` with
    /// the world flags given here.
    #[arg(long)]
    server: String,
    /// Sent as `Authorization: Bearer KEY`; the key needs the read and ingest scopes.
    #[arg(long, env = "RECD_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The world the server's data was generated from: the flags `recd gen` was given.
    #[command(flatten)]
    world: WorldArgs,
    /// Users to simulate, drawn from the world's users (the same ones for the same seed).
    #[arg(long, default_value_t = 100)]
    sim_users: u32,
    /// Recommendation requests per simulated user.
    #[arg(long, default_value_t = 5)]
    steps: u32,
    /// Items asked for per request.
    #[arg(long, default_value_t = 10)]
    n: usize,
    /// Users in a request at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// Runs the subcommand: exits non-zero when the run cannot start, or after the summary when
/// requests failed.
pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let generator = Generator::new(args.world.config()?).context("invalid world settings")?;
    let config = SimConfig {
        server: args.server,
        api_key: args.api_key,
        users: args.sim_users,
        steps: args.steps,
        num_results: args.n,
        concurrency: args.concurrency,
    };
    // One thread: the work is waiting on the server, which may share the machine.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let summary = runtime.block_on(simulate::run(&config, Arc::new(generator)))?;
    println!("{}", serde_json::to_string(&summary)?);
    if summary.errors > 0 {
        anyhow::bail!(
            "{} requests failed; the first: {}",
            summary.errors,
            summary.first_error.as_deref().unwrap_or("unknown")
        );
    }
    Ok(())
}
