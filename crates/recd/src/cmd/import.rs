//! `recd import`: load events, items and users from files into a data dir, or through the
//! running server that owns one (`--server`).
//!
//! A thin wrapper over `recd_io::import_*`, which read, check and batch the files the same way
//! whatever the destination (an [`recd_io::ImportSink`]: the local store, or
//! [`http::ServerSink`]). It draws one progress bar per file (over bytes; indicatif hides it
//! when stderr is not a terminal), prints bad rows it skipped, and a one-line summary on stdout.

pub(crate) mod http;
pub(crate) mod wire;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use recd_io::{Format, ImportOptions, ImportReport, ImportSink, RecordKind};
use recd_store::{Store, StoreConfig};

use super::in_use::{self, Doing};

/// Flags of `recd import`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["data_dir", "server"])))]
pub struct ImportArgs {
    /// The data dir to import into (created if missing). No other process may have it open
    /// for writing: import into a served data dir with --server.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Import through the `recd serve` at this URL (http://HOST:PORT): items and users are
    /// PUT one by one, events POSTed in batches.
    #[arg(long)]
    pub server: Option<String>,
    /// Sent as `Authorization: Bearer KEY` with every request to --server.
    #[arg(
        long,
        env = "RECD_API_KEY",
        hide_env_values = true,
        requires = "server"
    )]
    pub api_key: Option<String>,
    /// File of interaction events.
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// File of catalog items.
    #[arg(long)]
    pub items: Option<PathBuf>,
    /// File of user profiles.
    #[arg(long)]
    pub users: Option<PathBuf>,
    /// Input format: auto, ml100k, movielens-csv, csv, jsonl or parquet (see docs/formats.md).
    #[arg(long, default_value = "auto", value_parser = parse_format)]
    pub format: Format,
    /// Count, report and skip bad rows instead of stopping at the first one.
    #[arg(long)]
    pub skip_bad: bool,
    /// Do not validate a whole file before writing it (faster for trusted input; a bad row
    /// then stops the import with the rows before it already written).
    #[arg(long)]
    pub no_check: bool,
    /// Records per durable append (with --server: per request of events, at most 10000).
    #[arg(long, default_value_t = 10_000)]
    pub batch_size: usize,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

/// Runs `recd import`.
pub fn run(args: ImportArgs, store: StoreConfig) -> anyhow::Result<()> {
    if args.events.is_none() && args.items.is_none() && args.users.is_none() {
        anyhow::bail!("nothing to import: pass --events, --items and/or --users");
    }
    let started = Instant::now();
    let mut options = ImportOptions {
        skip_bad: args.skip_bad,
        check_first: !args.no_check,
        batch_size: args.batch_size,
        progress: None,
    };
    let (sink, destination): (Box<dyn ImportSink>, String) = match (&args.data_dir, &args.server) {
        (Some(dir), _) => (Box::new(open_store(dir, store)?), String::new()),
        (None, Some(url)) => {
            options.batch_size = options.batch_size.min(http::MAX_EVENTS_PER_REQUEST);
            let sink = http::ServerSink::connect(url, args.api_key.as_deref())?;
            (Box::new(sink), format!(" through {url}"))
        }
        (None, None) => anyhow::bail!("give --data-dir DIR or --server URL"),
    };
    // Catalog first, so a reader of the log sees an item before the events about it.
    let files = [
        (RecordKind::Items, &args.items),
        (RecordKind::Users, &args.users),
        (RecordKind::Events, &args.events),
    ];
    let mut counts = [0u64; 3];
    let mut n_bad = 0;
    let mut n_duplicates = 0;
    for (slot, (kind, path)) in files.into_iter().enumerate() {
        let Some(path) = path else { continue };
        let report = import_file(sink.as_ref(), kind, path, args.format, &options)
            .with_context(|| format!("importing {}{destination}", kind.as_str()))?;
        print_bad_rows(&report);
        counts[slot] = report.n_imported;
        n_bad += report.n_bad;
        n_duplicates += report.n_duplicates;
    }
    let [n_items, n_users, n_events] = counts;
    // Said only when it happens: a file imported again whose rows carry event ids.
    let duplicates = if n_duplicates > 0 {
        format!(", {n_duplicates} events already imported skipped")
    } else {
        String::new()
    };
    println!(
        "imported {n_events} events, {n_users} users, {n_items} items ({n_bad} bad rows skipped{duplicates}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Opens the data dir for writing; another process holding it gets advice, not a lock error.
fn open_store(dir: &Path, config: StoreConfig) -> anyhow::Result<Store> {
    Store::open(dir, config)
        .with_context(|| format!("opening data dir {}", dir.display()))
        .map_err(|e| in_use::explain(e, dir, Doing::Import))
}

fn import_file(
    sink: &dyn ImportSink,
    kind: RecordKind,
    path: &Path,
    format: Format,
    options: &ImportOptions,
) -> anyhow::Result<ImportReport> {
    let bar = progress_bar(kind, path);
    let mut options = options.clone();
    let progress_bar = bar.clone();
    options.progress = Some(Arc::new(move |done, total| {
        progress_bar.set_length(total);
        progress_bar.set_position(done);
    }));
    let report = match kind {
        RecordKind::Events => recd_io::import_events(sink, path, format, &options),
        RecordKind::Items => recd_io::import_items(sink, path, format, &options),
        RecordKind::Users => recd_io::import_users(sink, path, format, &options),
    };
    bar.finish_and_clear();
    Ok(report?)
}

fn progress_bar(kind: RecordKind, path: &Path) -> ProgressBar {
    let len = std::fs::metadata(path).map_or(0, |m| m.len());
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(format!("{} {}", kind.as_str(), path.display()));
    bar
}

fn print_bad_rows(report: &ImportReport) {
    for row in &report.bad_rows {
        eprintln!("recd: skipped bad row: {row}");
    }
    let unshown = report.n_bad.saturating_sub(report.bad_rows.len() as u64);
    if unshown > 0 {
        eprintln!("recd: ... and {unshown} more bad rows skipped");
    }
}
