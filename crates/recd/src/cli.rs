//! Command-line shape: one subcommand per role or job. Each subcommand's flags live with its
//! code in `cmd/`; this file only lists them.

use clap::{Parser, Subcommand};

use crate::cmd;

/// recd: a real-time recommendation engine.
#[derive(Debug, Parser)]
#[command(name = "recd", version, about)]
pub struct Cli {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The TOML config file (every key: config/recd.example.toml). Environment variables
    /// `RECD__SECTION__KEY` override it, and flags override both.
    #[arg(long, global = true, env = crate::config::CONFIG_ENV)]
    pub config: Option<std::path::PathBuf>,
    /// Log lines as human-readable text or as JSON objects, one per line (for log shippers).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job on embedded defaults: data in, model trained, recommendations, server.
    Demo(cmd::demo::DemoArgs),
    /// Import events, items and users from files into a data dir.
    Import(cmd::import::ImportArgs),
    /// Export the event history as Parquet partitioned by day.
    Export(cmd::export::ExportArgs),
    /// Generate deterministic synthetic data.
    Gen(cmd::gen_data::GenArgs),
    /// Inspect the event log.
    #[command(subcommand)]
    Events(cmd::events::EventsCommand),
    /// List, show (with the report), start, stop or ramp the experiments of a running server.
    #[command(subcommand)]
    Experiments(cmd::experiments::ExperimentsCommand),
    /// Verify or repair the event log.
    #[command(subcommand)]
    Log(cmd::log::LogCommand),
    /// Train every model on the event log, evaluate, publish a version.
    Train(cmd::train::TrainArgs),
    /// Batch recommendations for a list of users (the offline protocol's format).
    Recommend(cmd::recommend::RecommendArgs),
    /// Evaluate the engine: `replay` walks the hold-out's sessions event by event.
    #[command(subcommand)]
    Eval(cmd::eval::EvalCommand),
    /// List, inspect, activate, promote and roll back model versions; delete old ones.
    #[command(subcommand)]
    Models(cmd::models::ModelsCommand),
    /// Serve the HTTP API (events in, features and recommendations out).
    Serve(cmd::serve::ServeArgs),
    /// The updater role of a scaled deployment: applies the event bus to the Redis feature
    /// store, sharing the bus's partitions with other `recd stream` processes.
    Stream(cmd::stream::StreamArgs),
    /// The lake role of a scaled deployment: writes the event bus to a Parquet lake round after
    /// round (new events appended, deleted users forgotten), one sink per fleet at a time.
    Sink(cmd::sink::SinkArgs),
    /// Simulated users of a `recd gen` world against a running server: what each variant earns.
    Simulate(cmd::simulate::SimulateArgs),
    /// Micro-benchmarks of engine parts, printing one JSON line.
    Bench(cmd::bench::BenchArgs),
    /// The effective configuration.
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(cmd::keys::KeysCommand),
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable; coloured only when stderr is a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the log subscriber on stderr, `RUST_LOG` winning over `-v`. Colour codes only on a
/// terminal: a log file or a pipe gets plain text.
pub fn init_tracing(verbose: u8, format: LogFormat) {
    // The Redis client's own warnings come once per command while a node is down (thousands
    // a second in a cluster failover); recd says what matters about it at its own level.
    let default = match verbose {
        0 => "info,redis=error",
        1 => "debug,redis=warn",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}
