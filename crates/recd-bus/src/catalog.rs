//! Following the catalog channel: every process of a fleet reads it whole, from the start,
//! and applies each record to its own copy of the catalog (DECISIONS §3: catalog and
//! profiles rebuilt by every process from the bus). What a copy is (a data dir's catalog, a
//! category map) is the caller's business: it gets the records in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use recd_store::Offset;
use recd_types::Record;

use crate::{BusError, EventBus};

/// How long the follower blocks on the channel before looking at its stop flag.
const BLOCK: Duration = Duration::from_millis(500);
/// Most records handed to the callback at once.
const BATCH: usize = 1_024;

/// A thread applying the catalog channel; stops (after the batch in hand) when dropped.
pub struct CatalogFollower {
    stop: Arc<AtomicBool>,
    applied: Arc<AtomicU64>,
    caught_up: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CatalogFollower {
    /// Starts reading the catalog channel of `bus` from its start, handing each batch of
    /// records (in channel order) to `apply`. A batch that `apply` refuses is offered again
    /// after a pause (nothing is skipped); a channel that cannot be read is retried.
    pub fn start(
        bus: &dyn EventBus,
        mut apply: impl FnMut(&[Record]) -> Result<(), String> + Send + 'static,
    ) -> Result<Self, BusError> {
        let log = bus.catalog_reader()?;
        let stop = Arc::new(AtomicBool::new(false));
        let applied = Arc::new(AtomicU64::new(0));
        let caught_up = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, applied, caught_up) = (stop.clone(), applied.clone(), caught_up.clone());
            std::thread::Builder::new()
                .name("recd-catalog".into())
                .spawn(move || {
                    let mut next: Offset = 0;
                    // The last wait said there was something, yet the read found no record
                    // of ours: only skipped entries lie ahead; wait instead of spinning.
                    let mut promised = false;
                    while !stop.load(Ordering::Acquire) {
                        match read(log.as_ref(), next) {
                            Ok((records, after)) if records.is_empty() && after == next => {
                                if !caught_up.swap(true, Ordering::AcqRel) {
                                    tracing::info!(offset = next, "catalog channel caught up");
                                }
                                if promised {
                                    std::thread::sleep(BLOCK);
                                }
                                promised = match log.wait_for(next, BLOCK) {
                                    Ok(found) => found,
                                    Err(e) => {
                                        tracing::debug!(error = %e, "catalog channel not readable");
                                        std::thread::sleep(BLOCK);
                                        false
                                    }
                                };
                            }
                            Ok((records, after)) => match apply(&records) {
                                Ok(()) => {
                                    promised = false;
                                    next = after;
                                    applied.store(next, Ordering::Release);
                                    metrics::counter!("recd_catalog_records_followed_total")
                                        .increment(records.len() as u64);
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "catalog record not applied; retrying");
                                    std::thread::sleep(BLOCK);
                                }
                            },
                            Err(e) => {
                                tracing::warn!(error = %e, "catalog channel not readable; retrying");
                                std::thread::sleep(BLOCK);
                            }
                        }
                    }
                })
                .map_err(|e| BusError::Config(format!("cannot start the catalog follower: {e}")))?
        };
        Ok(Self {
            stop,
            applied,
            caught_up,
            thread: Some(thread),
        })
    }

    /// Whether it has read to the channel's end at least once.
    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }

    /// The channel offset it has applied up to (exclusive).
    pub fn applied(&self) -> Offset {
        self.applied.load(Ordering::Acquire)
    }

    /// A handle on [`CatalogFollower::applied`] that outlives borrows of the follower.
    pub fn applied_handle(&self) -> Arc<AtomicU64> {
        self.applied.clone()
    }
}

impl Drop for CatalogFollower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Up to [`BATCH`] records from `next`, and the offset after the last one read (skipped
/// malformed entries included).
fn read(
    log: &dyn crate::BusPartition,
    next: Offset,
) -> Result<(Vec<Record>, Offset), recd_store::StoreError> {
    let mut records = Vec::new();
    let mut after = next;
    for entry in log.read_from(next)?.take(BATCH) {
        let (offset, record) = entry?;
        after = offset + 1;
        records.push(record);
    }
    Ok((records, after))
}
