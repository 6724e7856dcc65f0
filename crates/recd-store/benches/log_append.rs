//! Append throughput of the embedded event log with group commit.
//!
//! `threads` appenders each call `append` with `batch` records until `records` in total are
//! acknowledged; prints one JSON line. Every acknowledged event is durable (fdatasync'd), so
//! `acked_events_per_s` is the figure the event log's goal (>= 100k/s on 2 cores) is about.
//!
//! ```text
//! cargo bench -p recd-store --bench log_append -- --threads 4 --batch 10 --records 200000
//! ```
//! Flags: `--threads N`, `--batch N`, `--records N`, `--window-us N` (group commit window,
//! default `LogConfig`'s), `--segment-mib N`, `--dir PATH` (default: a temp dir under
//! cargo's target tmp dir, on the same disk as the build rather than a possible tmpfs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use recd_store::{EventLog, FileLog, LogConfig};
use recd_types::{Event, EventKind, ItemId, Record, UserId};

struct Args {
    threads: usize,
    batch: usize,
    records: usize,
    window: Duration,
    segment_mib: u64,
    dir: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        threads: 1,
        batch: 1000,
        records: 200_000,
        window: LogConfig::default().group_commit_window,
        segment_mib: LogConfig::default().segment_bytes >> 20,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` passes `--bench` to every bench binary; it means nothing here.
        if flag == "--bench" {
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--threads" => args.threads = number()? as usize,
            "--batch" => args.batch = number()? as usize,
            "--records" => args.records = number()? as usize,
            "--window-us" => args.window = Duration::from_micros(number()?),
            "--segment-mib" => args.segment_mib = number()?,
            "--dir" => args.dir = Some(value),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.threads == 0 || args.batch == 0 {
        return Err("--threads and --batch must be at least 1".into());
    }
    Ok(args)
}

/// A view event like a web client sends: user, item, session, page and device, dwell time.
fn view_event(n: usize) -> Record {
    let mut event = Event::new(
        UserId::parse(format!("user-{:08}", n % 50_000)).expect("valid id"),
        Some(ItemId::parse(format!("sku-{:07}", (n * 7919) % 200_000)).expect("valid id")),
        EventKind::View,
        1_760_000_000_000 + n as i64,
    );
    event.session_id = Some(format!(
        "3f9c2a1e-{:04x}-4b7d-9e21-{:012x}",
        n % 65_536,
        n / 16
    ));
    event.context.page = Some("item_page".into());
    event.context.device = Some("mobile".into());
    event.dwell_ms = Some((n % 30_000) as u32);
    Record::Event(event)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("log_append: {e}");
            std::process::exit(2);
        }
    };
    let tmp = match &args.dir {
        Some(dir) => tempfile::tempdir_in(dir),
        None => {
            let root = env!("CARGO_TARGET_TMPDIR");
            std::fs::create_dir_all(root).and_then(|_| tempfile::tempdir_in(root))
        }
    }
    .expect("bench temp dir");
    let config = LogConfig {
        segment_bytes: args.segment_mib << 20,
        group_commit_window: args.window,
    };
    let log = Arc::new(FileLog::open(tmp.path(), config).expect("open log"));
    let pool: Arc<Vec<Record>> = Arc::new((0..10_000).map(view_event).collect());
    let calls_per_thread = args.records.div_ceil(args.threads * args.batch);
    let started = Instant::now();
    let handles: Vec<_> = (0..args.threads)
        .map(|t| {
            let log = log.clone();
            let pool = pool.clone();
            let batch = args.batch;
            std::thread::spawn(move || {
                let mut at = (t * 997) % pool.len();
                for _ in 0..calls_per_thread {
                    let records: Vec<Record> = (0..batch)
                        .map(|k| pool[(at + k) % pool.len()].clone())
                        .collect();
                    log.append(&records).expect("append");
                    at = (at + batch) % pool.len();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("appender thread");
    }
    let secs = started.elapsed().as_secs_f64();
    let acked = calls_per_thread * args.threads * args.batch;
    assert_eq!(
        log.end_offset() as usize,
        acked,
        "every append acknowledged"
    );
    let stats = log.stats();
    println!(
        "{{\"threads\":{},\"batch\":{},\"records\":{},\"window_us\":{},\"secs\":{:.3},\"acked_events_per_s\":{:.0},\"fsyncs\":{},\"groups\":{},\"bytes\":{},\"bytes_per_record\":{:.1}}}",
        args.threads,
        args.batch,
        acked,
        args.window.as_micros(),
        secs,
        acked as f64 / secs,
        stats.n_syncs,
        stats.n_groups,
        stats.n_bytes_written,
        stats.n_bytes_written as f64 / acked as f64,
    );
}
