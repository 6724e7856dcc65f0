//! The updater role on a partitioned bus (`recd stream`): this process applies the
//! partitions whose leases it holds, one [`Updater`] per partition, and takes over the
//! partitions of processes that stopped renewing theirs.
//!
//! Each partition's updater reads it through the bus's read view ([`BusPartition`]) and
//! writes through the feature store's handle for that partition (its own applied offset;
//! counters shared with the other partitions by compare-and-set), so a partition resumes
//! where its last owner left it, whoever that was. The leases live on the feature store's
//! Redis, whichever engine carries the events. A waker thread per partition blocks on the
//! partition (`XREAD BLOCK`, a Kafka fetch) and wakes the updater as soon as a record lands,
//! so freshness does not depend on the poll interval; it also commits the updater's progress
//! where the engine shows it to its own tools.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use recd_bus::{BusPartition, EventBus, Leases};
use recd_features::{FoldIn, RedisStore};
use recd_store::Offset;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{CategoryLookup, StreamConfig, Updater};

/// How long a waker blocks on its stream before looking at its stop flag.
const WAKER_BLOCK: Duration = Duration::from_millis(500);

/// The partitions this process applies, by lease. See the module docs.
pub struct PartitionedUpdater {
    bus: Arc<dyn EventBus>,
    leases: Arc<std::sync::Mutex<Leases>>,
    features: Arc<RedisStore>,
    categories: Arc<dyn CategoryLookup>,
    fold: Option<Arc<dyn FoldIn>>,
    config: StreamConfig,
    owner: String,
}

/// One partition being applied here.
struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    waker_stop: Arc<AtomicBool>,
}

impl PartitionedUpdater {
    /// An updater role named `owner` (unique per process: host and pid, say), holding its
    /// partitions by leases on the Redis at `lease_url` (the feature store's: `features` is
    /// on it).
    pub fn new(
        bus: Arc<dyn EventBus>,
        lease_url: &str,
        features: Arc<RedisStore>,
        categories: Arc<dyn CategoryLookup>,
        fold: Option<Arc<dyn FoldIn>>,
        config: StreamConfig,
        owner: String,
    ) -> Result<Self, recd_bus::BusError> {
        let lease = Duration::from_millis(config.lease_ms.max(300));
        let leases = Leases::open(
            lease_url,
            "features.store",
            bus.config(),
            owner.clone(),
            lease,
        )?;
        let leases = Arc::new(std::sync::Mutex::new(leases));
        Ok(Self {
            bus,
            leases,
            features,
            categories,
            fold,
            config,
            owner,
        })
    }

    /// Runs until `shutdown` turns true: every third of the lease time, renews the leases
    /// held and tries to take the others; publishes the partitions held on `owned`. On
    /// shutdown the updaters apply what is in their partitions, then the leases are released
    /// so that another process takes over at once.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, owned: watch::Sender<Vec<u32>>) {
        let tick = Duration::from_millis(self.config.lease_ms.max(300)) / 3;
        let leases = self.leases.clone();
        let mut running: HashMap<u32, Running> = HashMap::new();
        // Whether the last round failed: said once when rounds start and stop failing.
        let mut failing = false;
        loop {
            let started = Instant::now();
            let held: Vec<u32> = running.keys().copied().collect();
            let outcome = {
                let leases = leases.clone();
                let n = self.bus.partitions();
                tokio::task::spawn_blocking(move || round(&leases, n, &held)).await
            };
            match outcome {
                Ok(Round {
                    lost,
                    won,
                    surplus,
                    failed,
                }) => {
                    match failed {
                        Some(e) if !failing => {
                            tracing::warn!(error = %e, "lease rounds fail: no partition is taken or handed over until the lease store answers");
                            failing = true;
                        }
                        None if failing => {
                            tracing::info!("lease rounds run again");
                            failing = false;
                        }
                        _ => {}
                    }
                    for p in lost {
                        if let Some(r) = running.remove(&p) {
                            tracing::warn!(
                                partition = p,
                                "partition lease lost; another process applies it now"
                            );
                            stop(r).await;
                        }
                    }
                    for &p in &surplus {
                        if let Some(r) = running.remove(&p) {
                            tracing::info!(
                                partition = p,
                                "partition handed over to balance the owners"
                            );
                            stop(r).await;
                        }
                    }
                    if !surplus.is_empty() {
                        release(&leases, surplus).await;
                    }
                    for p in won {
                        match self.start(p) {
                            Ok(r) => {
                                tracing::info!(partition = p, owner = %self.owner, "partition lease taken");
                                running.insert(p, r);
                            }
                            Err(e) => {
                                tracing::warn!(partition = p, error = %e, "cannot read the partition; giving its lease back");
                                release(&leases, vec![p]).await;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "lease round failed"),
            }
            let mut list: Vec<u32> = running.keys().copied().collect();
            list.sort_unstable();
            metrics::gauge!("recd_stream_partitions_owned").set(list.len() as f64);
            owned.send_if_modified(|current| {
                let changed = *current != list;
                *current = list;
                changed
            });
            tokio::select! {
                _ = tokio::time::sleep(tick.saturating_sub(started.elapsed())) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
        }
        let parts: Vec<u32> = running.keys().copied().collect();
        for (_, r) in running.drain() {
            stop(r).await;
        }
        release(&leases, parts).await;
        let leaving = leases.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = leaving.lock().unwrap_or_else(|p| p.into_inner()).leave();
        })
        .await;
        owned.send_replace(Vec::new());
    }

    /// Starts applying partition `p`: its updater and its waker.
    fn start(&self, p: u32) -> Result<Running, recd_bus::BusError> {
        let log: Arc<dyn BusPartition> = Arc::from(self.bus.reader(p)?);
        let log: Arc<dyn recd_store::EventLog> = log;
        let store = Arc::new(self.features.for_partition(p));
        let horizon = self.features_ttl_ms();
        let updater = Updater::new(
            log,
            store,
            self.categories.clone(),
            self.fold.clone(),
            self.config.clone(),
        )
        .with_replay_horizon(horizon);
        let (stop_tx, stop_rx) = watch::channel(false);
        let (wake_tx, wake_rx) = watch::channel(0);
        let (progress_tx, progress_rx) = watch::channel(None);
        let waker_stop = Arc::new(AtomicBool::new(false));
        let waker_log = self.bus.reader(p)?;
        let flag = waker_stop.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("recd-wake-p{p}"))
            .spawn(move || wake(waker_log.as_ref(), &wake_tx, progress_rx, &flag));
        if let Err(e) = spawned {
            tracing::warn!(partition = p, error = %e, "no waker thread; the updater polls");
        }
        let task = tokio::spawn(updater.run(wake_rx, stop_rx, progress_tx));
        Ok(Running {
            stop: stop_tx,
            task,
            waker_stop,
        })
    }

    fn features_ttl_ms(&self) -> i64 {
        use recd_features::FeatureStore;
        self.features.config().user_ttl_ms()
    }
}

/// What one lease round decided.
struct Round {
    /// Leases that another owner holds now.
    lost: Vec<u32>,
    /// Leases taken.
    won: Vec<u32>,
    /// Leases to give up, over this owner's fair share (stop, then release).
    surplus: Vec<u32>,
    /// Why the round could not run (the lease store did not answer).
    failed: Option<String>,
}

/// Says this owner is alive, renews the leases held, gives up those over its fair share of
/// the partitions among the live owners, and takes free ones up to that share.
fn round(leases: &std::sync::Mutex<Leases>, n: u32, held: &[u32]) -> Round {
    let mut leases = leases.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = Round {
        lost: Vec::new(),
        won: Vec::new(),
        surplus: Vec::new(),
        failed: None,
    };
    let owners = match leases.heartbeat() {
        Ok(owners) => owners,
        Err(e) => {
            // Redis is unreachable: keep applying what is held (nobody can take a lease
            // while nobody reaches Redis, and a batch applied twice changes nothing twice).
            out.failed = Some(e.to_string());
            return out;
        }
    };
    let fair = (n as usize).div_ceil(owners);
    let mut holding = Vec::new();
    for &p in held {
        match leases.renew(p) {
            Ok(false) => out.lost.push(p),
            Ok(true) => holding.push(p),
            Err(e) => {
                tracing::debug!(partition = p, error = %e, "lease not renewed");
                holding.push(p);
            }
        }
    }
    holding.sort_unstable();
    while holding.len() > fair {
        out.surplus.extend(holding.pop());
    }
    for p in 0..n {
        if holding.len() + out.won.len() >= fair {
            break;
        }
        if !held.contains(&p) && matches!(leases.acquire(p), Ok(true)) {
            out.won.push(p);
        }
    }
    out
}

/// Releases the leases of `parts` (their updaters stopped), so another owner takes them at
/// once instead of after the lease time.
async fn release(leases: &Arc<std::sync::Mutex<Leases>>, parts: Vec<u32>) {
    let leases = leases.clone();
    let _ = tokio::task::spawn_blocking(move || {
        let mut leases = leases.lock().unwrap_or_else(|p| p.into_inner());
        for p in parts {
            if let Err(e) = leases.release(p) {
                tracing::warn!(partition = p, error = %e, "could not release the lease; it expires by itself");
            }
        }
    })
    .await;
}

async fn stop(r: Running) {
    r.waker_stop.store(true, Ordering::Release);
    r.stop.send_replace(true);
    if let Err(e) = r.task.await {
        tracing::warn!(error = %e, "partition updater task failed");
    }
}

/// Blocks on the partition past what the updater applied, wakes it when a record lands, and
/// commits its progress.
fn wake(
    log: &dyn BusPartition,
    wake: &watch::Sender<Offset>,
    mut progress: watch::Receiver<Option<Offset>>,
    stop: &AtomicBool,
) {
    let mut n: Offset = 0;
    while !stop.load(Ordering::Acquire) {
        // Until the first catch-up the updater reads on without waiting.
        let Some(from) = *progress.borrow_and_update() else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        log.commit(from);
        match log.wait_for(from, WAKER_BLOCK) {
            Ok(true) => {
                n += 1;
                wake.send_replace(n);
                // Let the updater move past it before looking again (bounded, in case
                // what is there cannot be applied, a malformed record say).
                let deadline = Instant::now() + Duration::from_millis(100);
                while !progress.has_changed().unwrap_or(true) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            Ok(false) => {}
            Err(e) => {
                tracing::debug!(partition = log.partition(), error = %e, "waker cannot read the stream");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}
