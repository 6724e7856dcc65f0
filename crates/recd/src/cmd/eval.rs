//! `recd eval replay`: what the speed layer is worth, measured by replaying sessions.
//!
//! A model is trained on everything before the hold-out (the last `holdout_days` of the
//! training window; nothing of the hold-out is seen), into a scratch directory. Then every
//! hold-out user's events are walked in time order (ties by log offset) with the engine's
//! clock at each event's time; before each positive interaction with an item the user has
//! not touched before (the click after a view of the same item is not a discovery) the engine
//! is asked for its top 10 given everything before it, and the interaction's item is scored
//! (hit@10, NDCG@10 of one relevant item). Three modes on the same events: `realtime` (each event is
//! applied to a fresh feature store as the updater would, fold-in included), `batch_only`
//! (the user's state frozen at the training cut) and `popular` (the precomputed popular
//! list). The engine runs in its deterministic mode; the exploration setting is printed.

mod replay;

use std::path::PathBuf;

use crate::config::Config;

/// Subcommands of `recd eval`.
#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Session replay over the hold-out: realtime vs batch-only vs popular.
    Replay(ReplayArgs),
}

/// Flags of `recd eval replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The data dir whose log is replayed (read-only: it may be served meanwhile).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Days at the end of the window to replay (default `[train] holdout_days`).
    #[arg(long)]
    pub holdout_days: Option<f64>,
    /// At most this many hold-out users, drawn evenly by a hash of their id (all if unset).
    #[arg(long)]
    pub max_users: Option<usize>,
    /// Print one JSON line instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the events replayed (and those before the cut) to `DIR/replay.csv`, for
    /// peers that replay the same events (`bench/replay_implicit.py`).
    #[arg(long)]
    pub dump: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(command: EvalCommand, config: Config) -> anyhow::Result<()> {
    match command {
        EvalCommand::Replay(args) => replay::run(args, config),
    }
}
