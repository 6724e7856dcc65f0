//! `recd export`: the event history as Parquet partitioned by day (`DIR/date=YYYY-MM-DD/`),
//! from a data dir's log or, for a fleet, from its event bus.
//!
//! A thin wrapper over `recd_io::export_events` / `export_partitions` with a progress bar.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use recd_io::ExportOptions;
use recd_store::{EventLog, Store};
use recd_types::TimestampMs;

/// Flags of `recd export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The data dir to export from.
    #[arg(long, required_unless_present = "events")]
    pub data_dir: Option<PathBuf>,
    /// Export a fleet's event bus instead: `redis://host:port`, `redis+cluster://...` or
    /// `kafka://host:port,.../topic` (sets `bus.events`). Every partition is read up to its
    /// end when the export starts (the bus's retention bounds what is there).
    #[arg(long, conflicts_with = "data_dir")]
    pub events: Option<String>,
    /// Keep events at or after this time: RFC 3339, YYYY-MM-DD (UTC) or integer ms.
    #[arg(long, value_parser = recd_io::parse_time_bound)]
    pub since: Option<TimestampMs>,
    /// Keep events before this time: RFC 3339, YYYY-MM-DD (UTC) or integer ms.
    #[arg(long, value_parser = recd_io::parse_time_bound)]
    pub until: Option<TimestampMs>,
    /// Output directory (created if missing; must not already hold an export).
    #[arg(long)]
    pub out: PathBuf,
    /// Export the impressions log (what answers showed: one row per item shown) instead of
    /// the events. A lake keeps them in a table of their own, beside the events'.
    #[arg(long, conflicts_with = "events")]
    pub impressions: bool,
}

impl ExportArgs {
    /// The flags that set config keys.
    pub fn overrides(&self) -> Vec<crate::config::Override> {
        self.events
            .iter()
            .map(|events| crate::config::flag("--events", "bus.events", events))
            .collect()
    }
}

/// Runs `recd export`.
pub fn run(args: ExportArgs, bus: recd_bus::BusConfig) -> anyhow::Result<()> {
    let started = Instant::now();
    let Some(data_dir) = &args.data_dir else {
        return export_bus(&args, bus, started);
    };
    if !data_dir.is_dir() {
        anyhow::bail!("data dir {} does not exist", data_dir.display());
    }
    if args.impressions {
        return export_impressions(&args, data_dir, started);
    }
    // Read-only: an export runs beside a server that owns the data dir.
    let log = Store::open_log_reader(data_dir)
        .with_context(|| format!("opening the event log of {}", data_dir.display()))?;
    let bar = ProgressBar::new(log.end_offset());
    let style = ProgressStyle::with_template("export [{bar:30}] {pos}/{len} records eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    let progress_bar = bar.clone();
    let options = ExportOptions {
        since_ms: args.since,
        until_ms: args.until,
        progress: Some(Arc::new(move |done, total| {
            progress_bar.set_length(total);
            progress_bar.set_position(done);
        })),
        source: recd_store::retention::export_source(&data_dir.join("log")),
        ..ExportOptions::default()
    };
    let report = recd_io::export_events(&log, &args.out, &options);
    bar.finish_and_clear();
    let report = report.context("exporting events")?;
    print_report(&report, &args, started);
    Ok(())
}

/// Exports the items the data dir's impressions log shows, with the event log's deletions
/// applied.
fn export_impressions(args: &ExportArgs, data_dir: &Path, started: Instant) -> anyhow::Result<()> {
    let dir = Store::impressions_dir(data_dir);
    if !dir.is_dir() {
        anyhow::bail!(
            "{} has no impressions log yet (a server writes one once it answers with [serve.impressions] enabled)",
            data_dir.display()
        );
    }
    let impressions = recd_store::ReadOnlyLog::open(&dir)
        .with_context(|| format!("opening the impressions log {}", dir.display()))?;
    let events = Store::open_log_reader(data_dir)
        .with_context(|| format!("opening the event log of {}", data_dir.display()))?;
    let options = ExportOptions {
        since_ms: args.since,
        until_ms: args.until,
        source: recd_store::retention::export_source(&dir),
        ..ExportOptions::default()
    };
    let report = recd_io::export_impressions(&impressions, &events, &args.out, &options)
        .context("exporting impressions")?;
    println!(
        "exported {} shown items in {} files over {} days to {} in {:.1} s",
        report.n_events,
        report.n_files,
        report.n_days,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Exports every partition of the bus that `bus.events` names.
fn export_bus(args: &ExportArgs, bus: recd_bus::BusConfig, started: Instant) -> anyhow::Result<()> {
    let events = bus.events.clone();
    let bus = recd_bus::open(bus).with_context(|| format!("event bus {events:?}"))?;
    let readers = (0..bus.partitions())
        .map(|p| bus.reader(p))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading the partitions of {events:?}"))?;
    let partitions: Vec<&dyn EventLog> = readers
        .iter()
        .map(|r| r.as_ref() as &dyn EventLog)
        .collect();
    let options = ExportOptions {
        since_ms: args.since,
        until_ms: args.until,
        source: Some(events.clone()),
        ..ExportOptions::default()
    };
    let report = recd_io::export_partitions(&partitions, &args.out, &options)
        .with_context(|| format!("exporting the events of {events:?}"))?;
    print_report(&report, args, started);
    Ok(())
}

fn print_report(report: &recd_io::ExportReport, args: &ExportArgs, started: Instant) {
    println!(
        "exported {} events in {} files over {} days to {} in {:.1} s",
        report.n_events,
        report.n_files,
        report.n_days,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
}
