//! `recd events ...`: look at the event log.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use recd_store::{EventLog, Store};
use recd_types::Record;

/// Subcommands of `recd events`.
#[derive(Debug, clap::Subcommand)]
pub enum EventsCommand {
    /// Print the last records of the log, one per line with its offset.
    Tail(TailArgs),
}

/// Flags of `recd events tail`.
#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// The data dir whose log to read.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// How many records.
    #[arg(short = 'n', long = "lines", default_value_t = 10)]
    pub n: u64,
    /// Print JSON lines (`{"offset":N,"record":{...}}`) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Read the impressions log (what answers showed) instead of the event log.
    #[arg(long)]
    pub impressions: bool,
}

/// Runs the subcommand.
pub fn run(command: EventsCommand) -> anyhow::Result<()> {
    match command {
        EventsCommand::Tail(args) => tail(args),
    }
}

fn tail(args: TailArgs) -> anyhow::Result<()> {
    // Opening a store creates it; a typo in --data-dir must not create an empty one.
    if !args.data_dir.is_dir() {
        anyhow::bail!("data dir {} does not exist", args.data_dir.display());
    }
    // Read-only: tailing runs beside a server that owns the data dir.
    let log = if args.impressions {
        let dir = Store::impressions_dir(&args.data_dir);
        if !dir.is_dir() {
            anyhow::bail!(
                "{} has no impressions log yet (a server writes one once it answers with [serve.impressions] enabled)",
                args.data_dir.display()
            );
        }
        recd_store::ReadOnlyLog::open(&dir)
            .with_context(|| format!("opening the impressions log {}", dir.display()))?
    } else {
        Store::open_log_reader(&args.data_dir)
            .with_context(|| format!("opening the event log of {}", args.data_dir.display()))?
    };
    let start = log.end_offset().saturating_sub(args.n);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for next in log
        .read_from(start)?
        .take(usize::try_from(args.n).unwrap_or(usize::MAX))
    {
        let (offset, record) = next?;
        let line = if args.json {
            serde_json::json!({ "offset": offset, "record": record }).to_string()
        } else {
            human(offset, &record)
        };
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// One readable line: offset, time, kind, then only the fields that are set.
fn human(offset: u64, record: &Record) -> String {
    let time = recd_io::format_ms(record.timestamp_ms());
    match record {
        Record::Event(e) => {
            let mut line = format!("{offset}\t{time}\t{}\tuser={}", e.kind, e.user_id);
            if let Some(item) = &e.item_id {
                line += &format!(" item={item}");
            }
            if let Some(value) = e.value {
                line += &format!(" value={value}");
            }
            if let Some(query) = &e.query {
                line += &format!(" query={query:?}");
            }
            if let Some(session) = &e.session_id {
                line += &format!(" session={session}");
            }
            if let Some(device) = &e.context.device {
                line += &format!(" device={device}");
            }
            if let Some(page) = &e.context.page {
                line += &format!(" page={page}");
            }
            if let Some(dwell) = e.dwell_ms {
                line += &format!(" dwell_ms={dwell}");
            }
            if let Some(id) = &e.event_id {
                line += &format!(" event_id={id}");
            }
            line
        }
        Record::Item { item, .. } => {
            format!(
                "{offset}\t{time}\titem\tid={} title={:?}",
                item.id, item.title
            )
        }
        Record::User { user, .. } => format!("{offset}\t{time}\tuser\tid={}", user.id),
        Record::UserDeleted { user, .. } => format!("{offset}\t{time}\tuser_deleted\tid={user}"),
        Record::Impression(i) => {
            let mut line = format!("{offset}\t{time}\timpression\trequest_id={}", i.request_id);
            if let Some(user) = &i.user_id {
                line += &format!(" user={user}");
            }
            if let Some(item) = &i.item_id {
                line += &format!(" similar_to={item}");
            }
            for label in &i.experiments {
                line += &format!(" variant={label}");
            }
            let items: Vec<&str> = i.items.iter().map(|s| s.item_id.as_str()).collect();
            line += &format!(" items={}", items.join(","));
            line
        }
    }
}
