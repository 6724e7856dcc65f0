//! `recd sink`: the lake role of a scaled deployment (DECISIONS §3: "the Parquet lake is
//! written from the bus by a sink role"). It writes the event bus into a Parquet lake round
//! after round (`recd_io::sink_round`: new events as new part files, deleted users forgotten
//! in the files already written, exactly once across crashes), so Spark and
//! `recd train --als-from` read an up-to-date lake without a batch export.
//!
//! One sink writes a lake at a time: it holds the fleet lock `<prefix>:{sink}:lock` on the
//! feature store's Redis while it runs. Others wait as standbys and take over within the
//! lease after the holder dies.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use recd_io::ExportOptions;
use recd_store::EventLog;

use crate::config::{self, Config, Override};

/// How long the lock outlives a sink that died (a standby takes over after it).
const LOCK_LEASE: Duration = Duration::from_secs(15);

/// Flags of `recd sink`.
#[derive(Debug, clap::Args)]
pub struct SinkArgs {
    /// The event bus: `redis://host:port`, `redis+cluster://host:port,...` or
    /// `kafka://host:port,.../topic` (sets `bus.events`).
    #[arg(long)]
    pub events: Option<String>,
    /// The Redis that holds the sink's lock (the feature store, `redis://host:port`; sets
    /// `features.store`).
    #[arg(long)]
    pub feature_store: Option<String>,
    /// The lake: a directory of `date=YYYY-MM-DD/` partitions (created if missing), fed by
    /// this bus only; on a shared volume for the readers.
    #[arg(long)]
    pub out: PathBuf,
    /// Milliseconds between rounds: how fresh the lake is, against how many small files it
    /// gets (one per day touched per round).
    #[arg(long, default_value_t = 60_000)]
    pub every_ms: u64,
    /// Run one round and exit (for a scheduler instead of a long-running role).
    #[arg(long)]
    pub once: bool,
}

impl SinkArgs {
    /// The flags that set config keys.
    pub fn overrides(&self) -> Vec<Override> {
        let mut res = Vec::new();
        if let Some(events) = &self.events {
            res.push(config::flag("--events", "bus.events", events));
        }
        if let Some(store) = &self.feature_store {
            res.push(config::flag("--feature-store", "features.store", store));
        }
        res
    }
}

/// Runs the role until SIGTERM or ctrl-c (or one round with `--once`).
pub fn run(args: SinkArgs, config: Config) -> anyhow::Result<()> {
    if !config.bus.is_bus() {
        anyhow::bail!(
            "recd sink writes a shared event bus to the lake: set --events redis://host:port or \
             kafka://host:port/topic (bus.events); a data dir's log is exported with `recd export`"
        );
    }
    if config.features.store == "embedded" {
        anyhow::bail!(
            "recd sink holds its lock on the fleet's Redis: set --feature-store redis://host:port \
             (features.store)"
        );
    }
    // A stop between rounds releases the lock at once (a standby takes over without waiting
    // for the lease); a kill mid-round is safe too, the round runs again.
    let stop = Arc::new(AtomicBool::new(false));
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal handler")?;
    let stopping = stop.clone();
    std::thread::spawn(move || {
        signals.block_on(super::serve::shutdown_signal());
        stopping.store(true, Ordering::Relaxed);
    });
    let source = config.bus.events.clone();
    let bus =
        recd_bus::open(config.bus.clone()).with_context(|| format!("event bus {source:?}"))?;
    let readers = (0..bus.partitions())
        .map(|p| bus.reader(p))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading the partitions of {source:?}"))?;
    let partitions: Vec<&dyn EventLog> = readers
        .iter()
        .map(|r| r.as_ref() as &dyn EventLog)
        .collect();
    let options = ExportOptions {
        source: Some(source.clone()),
        ..ExportOptions::default()
    };
    let mut standing_by = false;
    let _lock = loop {
        let lock = recd_bus::FleetLock::try_acquire(
            &config.features.store,
            "features.store",
            &config.bus,
            "sink",
            LOCK_LEASE,
        )
        .context("taking the sink's lock")?;
        if let Some(lock) = lock {
            break lock;
        }
        if args.once {
            anyhow::bail!(
                "another sink of this fleet holds the lake (the lock {}:{{sink}}:lock is held)",
                config.bus.prefix
            );
        }
        if !standing_by {
            tracing::info!("another sink writes the lake; standing by to take over");
            standing_by = true;
        }
        if sleep_unless_stopped(&stop, LOCK_LEASE / 3) {
            return Ok(());
        }
    };
    tracing::info!(lake = %args.out.display(), partitions = partitions.len(), every_ms = args.every_ms, "sink writing the lake");
    loop {
        let started = Instant::now();
        let round = recd_io::sink_round(&partitions, &source, &args.out, &options)
            .with_context(|| format!("writing the lake {}", args.out.display()))?;
        tracing::info!(
            round = round.round,
            events = round.written.n_events,
            files = round.written.n_files,
            deleted_users = round.deleted_users,
            rewritten_files = round.rewritten_files,
            took_ms = started.elapsed().as_millis() as u64,
            "lake round recorded"
        );
        if args.once || sleep_unless_stopped(&stop, Duration::from_millis(args.every_ms)) {
            return Ok(());
        }
    }
}

/// Sleeps `d` in short steps; true when a stop was asked for meanwhile.
fn sleep_unless_stopped(stop: &AtomicBool, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
    stop.load(Ordering::Relaxed)
}
