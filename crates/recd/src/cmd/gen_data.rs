//! `recd gen`: deterministic synthetic data into CSV files (`--out`) or a data dir
//! (`--data-dir`). The data itself comes from `recd_gen::Generator`; this file only writes it
//! and reports what was written.
//!
//! Order of what is written: items by index, users by index (CSV) or by signup day (store,
//! see `write_store`), then events block by block in user order, each user's events in time
//! order. Events are not globally time-ordered.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use recd_gen::{DAY_MS, GenConfig, GenStats, Generator};
use recd_io::{CsvEventWriter, CsvItemWriter, CsvUserWriter};
use recd_store::{Store, StoreConfig};
use recd_types::{Event, EventKind, TimestampMs};

/// Store batches: large enough to amortise one fsync and catalog commit, small enough to bound
/// memory.
const STORE_BATCH: usize = 20_000;
/// Buffer of each output file: big writes keep the CSV path CPU-bound, not syscall-bound.
const FILE_BUFFER_BYTES: usize = 1 << 20;

/// Flags of this subcommand.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["data_dir", "out"])))]
pub struct GenArgs {
    #[command(flatten)]
    world: WorldArgs,
    /// Write items, users and events into this data dir through the store.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Write items.csv, users.csv and events.csv (generic CSV) into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Generator threads (0: one per core). Does not change the output.
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// The flags that define a generated world. `recd gen` makes the world from them and `recd
/// simulate` finds the same users in it, so both take these flags, from this one struct.
#[derive(Debug, clap::Args)]
pub struct WorldArgs {
    /// Number of users in the world (ids u0, u1, ...).
    #[arg(long)]
    users: u32,
    /// Number of items in the world (ids i0, i1, ...).
    #[arg(long)]
    items: u32,
    /// Total number of events, exactly.
    #[arg(long)]
    events: u64,
    /// Seed: the same seed and settings give the same world, byte for byte.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// End of the event window (exclusive, UTC), YYYY-MM-DD. Fixed by default, never today,
    /// so that output does not depend on when it is run.
    #[arg(long, default_value = "2024-03-01")]
    end: String,
    /// Length of the event window in days.
    #[arg(long, default_value_t = 60)]
    days: u32,
    /// Number of item categories [default: 30, or the number of items if fewer].
    #[arg(long)]
    categories: Option<u32>,
    /// Dimension of the hidden taste space.
    #[arg(long, default_value_t = 16)]
    dim: usize,
    /// How strongly a session's device steers what is browsed in it: each device class
    /// (mobile, desktop, tablet) favours its own quarter of the categories, which weigh 1 + this
    /// in its sessions; 0 makes device and category independent. Part of the world: events
    /// change with it, and the kind model `recd simulate` uses is calibrated on them.
    #[arg(long, default_value_t = recd_gen::DEFAULT_DEVICE_EFFECT)]
    device_effect: f64,
    /// What a search says: after a search, this share of the session's later draws in its
    /// category take an item whose noun the query names; 0 makes a search say only the
    /// session's category.
    #[arg(long, default_value_t = recd_gen::DEFAULT_SEARCH_INTENT)]
    search_intent: f64,
}

impl WorldArgs {
    /// The generator's settings (`threads`: 0, one per core).
    pub fn config(&self) -> anyhow::Result<GenConfig> {
        let defaults = GenConfig::new(self.users, self.items, self.events, self.seed);
        Ok(GenConfig {
            end_ms: recd_gen::parse_date(&self.end).context("--end")?,
            n_days: self.days,
            n_categories: self.categories.unwrap_or(defaults.n_categories),
            dim: self.dim,
            device_effect: self.device_effect,
            search_intent: self.search_intent,
            ..defaults
        })
    }
}

/// Runs the subcommand.
pub fn run(args: GenArgs, store: StoreConfig) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = GenConfig {
        threads: args.threads,
        ..args.world.config()?
    };
    let generator = Generator::new(config).context("invalid generator settings")?;
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "world built"
    );
    let (target, stats) = match (&args.out, &args.data_dir) {
        (Some(out), _) => (out, write_csv(&generator, out)?),
        (None, Some(dir)) => (dir, write_store(&generator, dir, store)?),
        (None, None) => anyhow::bail!("give --out DIR or --data-dir DIR"),
    };
    print_summary(&generator, target, &stats, started.elapsed());
    Ok(())
}

/// Writes the three CSV files into `out`.
fn write_csv(generator: &Generator, out: &Path) -> anyhow::Result<GenStats> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let path = out.join("items.csv");
    let mut items = CsvItemWriter::new(create(&path)?).with_context(|| at(&path))?;
    for item in generator.items() {
        items.write(&item).with_context(|| at(&path))?;
    }
    flush(items.finish().with_context(|| at(&path))?, &path)?;

    let path = out.join("users.csv");
    let mut users = CsvUserWriter::new(create(&path)?).with_context(|| at(&path))?;
    for user in generator.users() {
        users.write(&user).with_context(|| at(&path))?;
    }
    flush(users.finish().with_context(|| at(&path))?, &path)?;

    let path = out.join("events.csv");
    let mut events = CsvEventWriter::new(create(&path)?).with_context(|| at(&path))?;
    let mut progress = Progress::new(generator);
    let stats = generator.for_each_block(|block| {
        for event in &block.events {
            events.write(event).with_context(|| at(&path))?;
        }
        progress.block_done(block.index);
        anyhow::Ok(())
    })?;
    flush(events.finish().with_context(|| at(&path))?, &path)?;
    Ok(stats)
}

fn create(path: &Path) -> anyhow::Result<BufWriter<File>> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(BufWriter::with_capacity(FILE_BUFFER_BYTES, file))
}

fn flush(mut w: BufWriter<File>, path: &Path) -> anyhow::Result<()> {
    w.flush().with_context(|| at(path))?;
    w.get_ref().sync_all().with_context(|| at(path))
}

fn at(path: &Path) -> String {
    format!("writing {}", path.display())
}

/// Writes items, users and events into the data dir at `dir`.
///
/// `Store::upsert_items`/`upsert_users` stamp a whole batch with one `at_ms`, so catalog
/// records are sorted by creation (signup) time and grouped by UTC day inside the event
/// window, and each batch is stamped with the latest time in it: no record is stamped before
/// the entity existed, and the window reads like a daily catalog feed. History from before the
/// window goes in plain batches of `STORE_BATCH` (a batch per day there would mean a thousand
/// synced commits for nothing). The exact times stay in `created_at_ms` / `signup_ms`.
fn write_store(generator: &Generator, dir: &Path, store: StoreConfig) -> anyhow::Result<GenStats> {
    let store = Store::open(dir, store)
        .with_context(|| format!("opening data dir {}", dir.display()))
        .map_err(|e| super::in_use::explain(e, dir, super::in_use::Doing::Write))?;
    let config = generator.config();
    let items: Vec<(TimestampMs, u32)> = (0..config.n_items)
        .map(|i| (generator.item_truth(i).created_at_ms, i))
        .collect();
    let window_start = config.start_ms();
    for (at_ms, batch) in catalog_batches(items, window_start) {
        let records = batch.iter().map(|&i| generator.item(i)).collect();
        store
            .upsert_items(records, at_ms)
            .with_context(|| format!("writing items to {}", dir.display()))?;
    }
    let users: Vec<(TimestampMs, u32)> = (0..config.n_users)
        .map(|u| (generator.user(u).signup_ms.unwrap_or(0), u))
        .collect();
    for (at_ms, batch) in catalog_batches(users, window_start) {
        let records = batch.iter().map(|&u| generator.user(u)).collect();
        store
            .upsert_users(records, at_ms)
            .with_context(|| format!("writing users to {}", dir.display()))?;
    }
    let mut pending: Vec<Event> = Vec::with_capacity(2 * STORE_BATCH);
    let mut progress = Progress::new(generator);
    let stats = generator.for_each_block(|block| {
        pending.extend(block.events);
        if pending.len() >= STORE_BATCH {
            append(&store, &mut pending, dir)?;
        }
        progress.block_done(block.index);
        anyhow::Ok(())
    })?;
    append(&store, &mut pending, dir)?;
    Ok(stats)
}

fn append(store: &Store, pending: &mut Vec<Event>, dir: &Path) -> anyhow::Result<()> {
    if !pending.is_empty() {
        store
            .append_events(std::mem::take(pending))
            .with_context(|| format!("appending events to {}", dir.display()))?;
    }
    Ok(())
}

/// Sorts `(time, index)` pairs and cuts them into batches of at most `STORE_BATCH`, one per UTC
/// day from `window_start` on, each with the latest time in it.
fn catalog_batches(
    mut entries: Vec<(TimestampMs, u32)>,
    window_start: TimestampMs,
) -> Vec<(TimestampMs, Vec<u32>)> {
    entries.sort_unstable();
    let group = |at_ms: TimestampMs| (at_ms >= window_start).then(|| at_ms.div_euclid(DAY_MS));
    let mut res: Vec<(TimestampMs, Vec<u32>)> = Vec::new();
    let mut current = None;
    for (at_ms, idx) in entries {
        match res.last_mut() {
            Some((last, batch)) if current == Some(group(at_ms)) && batch.len() < STORE_BATCH => {
                *last = at_ms;
                batch.push(idx);
            }
            _ => {
                current = Some(group(at_ms));
                res.push((at_ms, vec![idx]));
            }
        }
    }
    res
}

/// Logs progress about every tenth of the blocks.
struct Progress {
    started: Instant,
    n_blocks: u32,
    step: u32,
}

impl Progress {
    fn new(generator: &Generator) -> Self {
        let n_blocks = generator.n_blocks();
        Self {
            started: Instant::now(),
            n_blocks,
            step: (n_blocks / 10).max(1),
        }
    }

    fn block_done(&mut self, index: u32) {
        let done = index + 1;
        if done.is_multiple_of(self.step) && done < self.n_blocks {
            tracing::info!(
                percent = (100 * done as u64 / self.n_blocks as u64),
                elapsed_s = self.started.elapsed().as_secs(),
                "generating events"
            );
        }
    }
}

fn print_summary(generator: &Generator, target: &Path, stats: &GenStats, elapsed: Duration) {
    let config = generator.config();
    let secs = elapsed.as_secs_f64();
    println!(
        "generated {} items, {} users, {} events (seed {}) into {} in {:.2} s ({:.0} events/s)",
        config.n_items,
        config.n_users,
        stats.n_events,
        config.seed,
        target.display(),
        secs,
        stats.n_events as f64 / secs.max(1e-9),
    );
    for kind in EventKind::ALL {
        let count = stats.count(kind);
        let share = 100.0 * count as f64 / stats.n_events.max(1) as f64;
        println!("  {:<12} {count:>12} {share:>7.2}%", kind.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_batches_are_per_day_in_the_window_and_stamped_with_their_latest_time() {
        let start = 10 * DAY_MS;
        let entries = vec![
            (start + DAY_MS + 5, 1),
            (start + 3, 0),
            (start + DAY_MS + 1, 2),
            (-1, 3),
            (start - 3 * DAY_MS, 4),
        ];
        assert_eq!(
            catalog_batches(entries, start),
            vec![
                (start - 3 * DAY_MS, vec![3, 4]),
                (start + 3, vec![0]),
                (start + DAY_MS + 5, vec![2, 1])
            ]
        );
        let many: Vec<_> = (0..STORE_BATCH as u32 + 1).map(|i| (start, i)).collect();
        assert_eq!(catalog_batches(many, start).len(), 2);
    }
}
