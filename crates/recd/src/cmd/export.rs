//! `recd export`: the event history as Parquet partitioned by day (`DIR/date=YYYY-MM-DD/`).
//!
//! A thin wrapper over `recd_io::export_events` with a progress bar over log records.

use std::path::PathBuf;
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
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Keep events at or after this time: RFC 3339, YYYY-MM-DD (UTC) or integer ms.
    #[arg(long, value_parser = recd_io::parse_time_bound)]
    pub since: Option<TimestampMs>,
    /// Keep events before this time: RFC 3339, YYYY-MM-DD (UTC) or integer ms.
    #[arg(long, value_parser = recd_io::parse_time_bound)]
    pub until: Option<TimestampMs>,
    /// Output directory (created if missing; must not already hold an export).
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `recd export`.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    if !args.data_dir.is_dir() {
        anyhow::bail!("data dir {} does not exist", args.data_dir.display());
    }
    // Read-only: an export runs beside a server that owns the data dir.
    let log = Store::open_log_reader(&args.data_dir)
        .with_context(|| format!("opening the event log of {}", args.data_dir.display()))?;
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
        source: crate::cmd::log::export_source(&args.data_dir.join("log")),
        ..ExportOptions::default()
    };
    let report = recd_io::export_events(&log, &args.out, &options);
    bar.finish_and_clear();
    let report = report.context("exporting events")?;
    println!(
        "exported {} events in {} files over {} days to {} in {:.1} s",
        report.n_events,
        report.n_files,
        report.n_days,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
