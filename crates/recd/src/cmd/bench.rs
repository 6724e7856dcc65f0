//! `recd bench ...`: benchmarks of engine parts, each printing one JSON line on stdout.
//!
//! The JSON lines are meant to sit next to the peer scripts' output in `bench/*.sh` runs, so
//! they use the same keys and units as the peers (seconds, MB).

mod als;
mod ann;
mod events_csv;
mod proc_stats;

/// Flags of `recd bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Which benchmark to run.
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// The benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Implicit ALS training speed on a synth.py events.csv (compare with peers/als_speed.py).
    Als(als::AlsBenchArgs),
    /// Nearest-neighbour index recall and query speed on a model's vectors (compare with
    /// peers/ann_hnswlib.py on the exported .npy files).
    Ann(ann::AnnBenchArgs),
}

/// Runs the chosen benchmark.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Als(args) => als::run(args),
        BenchCommand::Ann(args) => ann::run(args),
    }
}
