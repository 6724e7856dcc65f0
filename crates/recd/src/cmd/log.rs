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
#[command(group(clap::ArgGroup::new("target").required(true).args(["data_dir", "server"])))]
pub struct CompactArgs {
    /// The data dir whose log to compact, with no server running on it.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Have the `recd serve` at this URL (http://HOST:PORT) compact the logs of the data dir
    /// it owns, beside its writers (`POST /v1/admin/log/compact`). Paths are the server's.
    #[arg(long)]
    pub server: Option<String>,
    /// Sent as `Authorization: Bearer KEY` to --server (an admin key).
    #[arg(
        long,
        env = "RECD_API_KEY",
        hide_env_values = true,
        requires = "server"
    )]
    pub api_key: Option<String>,
    /// Compact the impressions log instead of the event log. Impressions are not exported:
    /// they go by age alone.
    #[arg(long)]
    pub impressions: bool,
    /// Delete only segments whose newest record is older than this, counted back from now:
    /// a whole number and a unit (s, m, h, d), e.g. 30d.
    #[arg(long, value_parser = parse_age)]
    pub older_than: std::time::Duration,
    /// The directory `recd export --out` wrote from this data dir: an event segment is deleted
    /// only if that export holds its records.
    #[arg(long)]
    pub exported_to: Option<PathBuf>,
    /// Delete old event segments although no export holds them: their events are gone for good.
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
    use recd_store::retention::{CompactRequest, LogName, compact_log};
    let request = CompactRequest {
        log: if args.impressions {
            LogName::Impressions
        } else {
            LogName::Events
        },
        older_than: args.older_than,
        exported_to: args.exported_to.clone(),
        discard_unexported: args.discard_unexported,
        dry_run: args.dry_run,
    };
    let report = match (&args.server, &args.data_dir) {
        (Some(url), _) => {
            let server = super::import::http::ServerSink::connect(url, args.api_key.as_deref())?;
            let body = serde_json::to_value(recd_api::LogCompactIn {
                log: Some(match request.log {
                    LogName::Events => recd_api::LogNameIn::Events,
                    LogName::Impressions => recd_api::LogNameIn::Impressions,
                }),
                older_than_secs: request.older_than.as_secs(),
                exported_to: request
                    .exported_to
                    .as_ref()
                    .map(|p| p.display().to_string()),
                discard_unexported: Some(request.discard_unexported),
                dry_run: Some(request.dry_run),
            })?;
            let answer = server
                .call(hyper::Method::POST, "/v1/admin/log/compact", Some(&body))
                .context("compacting through the server")?;
            serde_json::from_value::<recd_api::LogCompactOut>(answer)
                .context("the server's answer is not a compaction report")?
        }
        (None, Some(data_dir)) => {
            let dir = if args.impressions {
                let dir = recd_store::Store::impressions_dir(data_dir);
                if !dir.is_dir() {
                    anyhow::bail!("{} has no impressions log", data_dir.display());
                }
                dir
            } else {
                log_dir_of(data_dir)?
            };
            let report = compact_log(&dir, &request, now_ms(), |options| {
                recd_store::compact(&dir, options)
            })
            .map_err(|e| match e {
                // The store's error itself, so that a held lock is recognised below.
                recd_store::retention::CompactError::Store(e) => anyhow::Error::new(e),
                // The request's fields are this command's flags.
                recd_store::retention::CompactError::Invalid { field, message } => anyhow::anyhow!(
                    "--{}: {}",
                    field.replace('_', "-"),
                    message.replace("discard_unexported", "--discard-unexported")
                ),
                other => anyhow::Error::new(other),
            })
            .with_context(|| {
                format!(
                    "compacting the {} log of {}",
                    request.log.as_str(),
                    data_dir.display()
                )
            })
            .map_err(|e| super::in_use::explain(e, data_dir, super::in_use::Doing::Compact))?;
            recd_serve::compact_out(request.log, args.dry_run, &report)
        }
        (None, None) => anyhow::bail!("give --data-dir DIR or --server URL"),
    };
    print_report(&report);
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn print_report(report: &recd_api::LogCompactOut) {
    let verb = if report.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    for span in &report.deleted {
        println!(
            "{verb} offsets {}..{} ({} .. {})",
            span.base,
            span.end,
            span.min_ms.map_or_else(|| "-".into(), recd_io::format_ms),
            span.max_ms.map_or_else(|| "-".into(), recd_io::format_ms)
        );
    }
    println!(
        "{verb} {} segments ({} bytes) of the {} log; it starts at offset {}; {} catalog records in its CATALOG",
        report.deleted.len(),
        report.bytes_deleted,
        report.log,
        report.start,
        report.catalog_records
    );
    if let Some(why) = &report.kept_because {
        println!("kept the rest: {why}");
    }
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
