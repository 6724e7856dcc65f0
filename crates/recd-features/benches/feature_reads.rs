//! Read throughput of the embedded feature store: what every recommendation request does.
//!
//! Fills the store with `users` users (each a few views and a 64-d vector, as the updater
//! leaves them), then `threads` readers each read random users for `secs` seconds while,
//! with `--writes`, one writer applies batches of new events beside them. Prints one JSON line.
//!
//! ```text
//! cargo bench -p recd-features --bench feature_reads -- --threads 2 --users 200000 --secs 5
//! ```
//! Flags: `--threads N`, `--users N`, `--secs N`, `--budget-mb N` (the store's memory budget;
//! default 0, a share of memory that holds every user), `--writes` (a writer runs beside).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use recd_features::{
    Batch, EmbeddedStore, FeatureConfig, FeatureStore, FoldIn, LoggedEvent, UserFeatures,
    UserVector,
};
use recd_types::{Event, EventKind, ItemId, UserId};

struct Args {
    threads: usize,
    users: u64,
    secs: u64,
    budget_mb: u64,
    writes: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        threads: 2,
        users: 200_000,
        secs: 5,
        budget_mb: 0,
        writes: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut number = || -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{flag} needs a number"))
        };
        match flag.as_str() {
            // `cargo bench` passes `--bench` to every bench binary; it means nothing here.
            "--bench" => {}
            "--threads" => args.threads = number()? as usize,
            "--users" => args.users = number()?,
            "--secs" => args.secs = number()?,
            "--budget-mb" => args.budget_mb = number()?,
            "--writes" => args.writes = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

struct Vectors;

impl FoldIn for Vectors {
    fn fold_in(&self, _: &UserFeatures) -> Option<UserVector> {
        Some(UserVector {
            model_version: "v1".into(),
            values: vec![0.5; 64],
            n_items: 3,
            computed_at_ms: 0,
        })
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Three views for each user of `users`, logged from `first_offset` on.
fn batch(first_offset: u64, users: std::ops::Range<u64>, now: i64) -> Batch {
    let mut events = Vec::new();
    for u in users {
        for k in 0..3 {
            let Ok(user) = UserId::parse(format!("user-{u}")) else {
                continue;
            };
            let item = ItemId::parse(format!("item-{}", (u * 7 + k) % 10_000)).ok();
            events.push(LoggedEvent {
                offset: first_offset + events.len() as u64,
                event: Event::new(user, item, EventKind::View, now - 1_000),
                category: None,
            });
        }
    }
    Batch {
        first_offset,
        next_offset: first_offset + events.len() as u64,
        events,
        now_ms: now,
    }
}

/// A small xorshift: the readers must not share a generator, and need no quality.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("feature_reads: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let now = now_ms();
    let config = FeatureConfig {
        memory_budget_mb: args.budget_mb,
        ..FeatureConfig::default()
    };
    let store = Arc::new(EmbeddedStore::new(config));
    let mut offset = 0;
    for first in (0..args.users).step_by(1_000) {
        let b = batch(offset, first..(first + 1_000).min(args.users), now);
        offset = b.next_offset;
        store.apply(&b, Some(&Vectors)).await.expect("apply");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..args.threads {
        let (store, stop, reads, users) = (store.clone(), stop.clone(), reads.clone(), args.users);
        tasks.push(tokio::task::spawn_blocking(move || {
            let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1);
            let ids: Vec<UserId> = (0..4096)
                .filter_map(|_| UserId::parse(format!("user-{}", next(&mut rng) % users)).ok())
                .collect();
            let mut n = 0u64;
            let handle = tokio::runtime::Handle::current();
            while !stop.load(Ordering::Relaxed) {
                for id in &ids {
                    let f = handle.block_on(store.user(id, now)).expect("read");
                    std::hint::black_box(f);
                }
                n += ids.len() as u64;
            }
            reads.fetch_add(n, Ordering::Relaxed);
        }));
    }
    let writer = args.writes.then(|| {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let mut first = args.users;
            while !stop.load(Ordering::Relaxed) {
                let b = batch(offset, first..first + 100, now);
                offset = b.next_offset;
                first += 100;
                store.apply(&b, Some(&Vectors)).await.expect("apply");
                tokio::task::yield_now().await;
            }
        })
    });
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("reader");
    }
    if let Some(w) = writer {
        w.await.expect("writer");
    }
    let secs = started.elapsed().as_secs_f64();
    let n = reads.load(Ordering::Relaxed);
    println!(
        "{{\"threads\":{},\"users\":{},\"held\":{},\"writes\":{},\"reads\":{n},\"reads_per_s\":{:.0},\"ns_per_read_per_thread\":{:.0}}}",
        args.threads,
        args.users,
        store.n_users(),
        args.writes,
        n as f64 / secs,
        secs * 1e9 * args.threads as f64 / n.max(1) as f64,
    );
}
