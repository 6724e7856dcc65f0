//! `recd log ...`: check, repair and compact a data dir's event log.
//!
//! `verify` reads everything read-only (it runs beside a server) and exits non-zero when it
//! finds damage; `repair` needs the server stopped, copies each damaged range to
//! `log/quarantine/` and rewrites the damaged segments without it, the lost records staying
//! a gap in the offsets. `compact` (server stopped) deletes the oldest closed segments past
//! an age whose records an export holds, keeping their catalog records in a snapshot.

use std::path::PathBuf;

use anyhow::Context;
use recd_store::LogDamage;

/// Subcommands of `recd log`.
#[derive(Debug, clap::Subcommand)]
pub enum LogCommand {
    /// Read every record and report damaged ranges (exit status 1 if there are any).
    Verify(LogArgs),
    /// Quarantine damaged ranges and rewrite their segments without them (server stopped).
    Repair(LogArgs),
    /// Delete closed segments older than an age whose records were exported (server stopped).
    Compact(CompactArgs),
}

/// Flags of `recd log compact`.
#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    /// The data dir whose log to compact.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Delete only segments whose newest record is older than this, counted back from now:
    /// a whole number and a unit (s, m, h, d), e.g. 30d.
    #[arg(long, value_parser = parse_age)]
    pub older_than: std::time::Duration,
    /// The directory `recd export --out` wrote from this data dir: a segment is deleted only
    /// if that export holds its records.
    #[arg(long)]
    pub exported_to: Option<PathBuf>,
    /// Delete old segments although no export holds them: their events are gone for good.
    #[arg(long, conflicts_with = "exported_to")]
    pub discard_unexported: bool,
    /// Only say what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_age(s: &str) -> Result<std::time::Duration, String> {
    match recd_train::schedule::parse_every(s)? {
        recd_train::schedule::Every(Some(d)) => Ok(d),
        recd_train::schedule::Every(None) => Err("an age is needed, e.g. 30d".into()),
    }
}

/// Flags of `recd log verify|repair`.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// The data dir whose log to check.
    #[arg(long)]
    pub data_dir: PathBuf,
}

/// Runs the subcommand.
pub fn run(command: LogCommand) -> anyhow::Result<()> {
    match command {
        LogCommand::Verify(args) => {
            let report = recd_store::verify(&log_dir(&args)?)
                .with_context(|| format!("verifying the log of {}", args.data_dir.display()))?;
            print_damage(&report.damage);
            if report.start > 0 {
                println!(
                    "records before offset {} were compacted; {} catalog records kept in log/CATALOG",
                    report.start, report.n_catalog_snapshot
                );
            }
            let lost: u64 = report.damage.iter().map(|d| d.n_lost).sum();
            println!(
                "{} records read up to offset {}; {} damaged ranges, {lost} records lost",
                report.n_records,
                report.end,
                report.damage.len()
            );
            if !report.damage.is_empty() {
                anyhow::bail!(
                    "the log is damaged: stop the server and run `recd log repair --data-dir {}`",
                    args.data_dir.display()
                );
            }
            Ok(())
        }
        LogCommand::Compact(args) => compact(&args),
        LogCommand::Repair(args) => {
            let report = recd_store::repair(&log_dir(&args)?).with_context(|| {
                format!(
                    "repairing the log of {} (stop the server that owns it first)",
                    args.data_dir.display()
                )
            })?;
            print_damage(&report.damage);
            println!(
                "rewrote {} segments; {} damaged ranges quarantined",
                report.n_rewritten,
                report.damage.len()
            );
            Ok(())
        }
    }
}

fn log_dir(args: &LogArgs) -> anyhow::Result<PathBuf> {
    log_dir_of(&args.data_dir)
}

fn log_dir_of(data_dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    let dir = data_dir.join("log");
    if !dir.is_dir() {
        anyhow::bail!("{} has no event log", data_dir.display());
    }
    Ok(dir)
}

/// `recd log compact`.
fn compact(args: &CompactArgs) -> anyhow::Result<()> {
    let dir = log_dir_of(&args.data_dir)?;
    let manifest = match (&args.exported_to, args.discard_unexported) {
        (Some(lake), _) => Some(recd_io::ExportManifest::read(lake).with_context(|| {
            format!(
                "{} holds no finished export (run `recd export --data-dir {} --out DIR` first)",
                lake.display(),
                args.data_dir.display()
            )
        })?),
        (None, true) => None,
        (None, false) => anyhow::bail!(
            "say where the segments' records were exported (--exported-to LAKE), or pass --discard-unexported to delete them anyway"
        ),
    };
    let source = export_source(&dir);
    let exported = |span: &recd_store::SegmentSpan| match &manifest {
        Some(m) => m.covers(
            source.as_deref(),
            (span.base, span.end),
            (span.min_ms, span.max_ms),
        ),
        None => Ok(()),
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let options = recd_store::CompactOptions {
        older_than_ms: now_ms - args.older_than.as_millis() as i64,
        exported: &exported,
        dry_run: args.dry_run,
    };
    let report = recd_store::compact(&dir, &options).with_context(|| {
        format!(
            "compacting the log of {} (stop the server that owns it first)",
            args.data_dir.display()
        )
    })?;
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    for span in &report.deleted {
        println!(
            "{verb} offsets {}..{} ({} .. {})",
            span.base,
            span.end,
            recd_io::format_ms(span.min_ms),
            recd_io::format_ms(span.max_ms)
        );
    }
    println!(
        "{verb} {} segments; the log starts at offset {}; {} catalog records in log/CATALOG",
        report.deleted.len(),
        report.start,
        report.n_catalog_records
    );
    if let Some(why) = &report.kept_because {
        println!("kept the rest: {why}");
    }
    Ok(())
}

/// How an export names the log it read: its canonical path.
pub fn export_source(log_dir: &std::path::Path) -> Option<String> {
    std::fs::canonicalize(log_dir)
        .ok()
        .map(|p| p.display().to_string())
}

fn print_damage(damage: &[LogDamage]) {
    for d in damage {
        println!(
            "damaged: {} bytes {}..{}: offsets {}..{} lost{} ({}){}",
            d.segment.display(),
            d.byte_start,
            d.byte_end,
            d.first_lost,
            d.first_lost + d.n_lost,
            if d.exact { "" } else { " (estimated)" },
            d.reason,
            d.quarantined
                .as_ref()
                .map(|q| format!("; copied to {}", q.display()))
                .unwrap_or_default()
        );
    }
}
