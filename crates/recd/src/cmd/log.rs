//! `recd log ...`: check and repair a data dir's event log.
//!
//! `verify` reads everything read-only (it runs beside a server) and exits non-zero when it
//! finds damage; `repair` needs the server stopped, copies each damaged range to
//! `log/quarantine/` and rewrites the damaged segments without it, the lost records staying
//! a gap in the offsets.

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
    let dir = args.data_dir.join("log");
    if !dir.is_dir() {
        anyhow::bail!("{} has no event log", args.data_dir.display());
    }
    Ok(dir)
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
