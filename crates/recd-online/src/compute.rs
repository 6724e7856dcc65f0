//! The pool that runs the online layer's CPU work (recommendations, similar items): one
//! thread per core, fed in arrival order.
//!
//! Why not `spawn_blocking`: under load tokio's blocking pool grows to hundreds of threads on
//! 2 cores, each warming its own per-thread scratch (the pipeline's signal arrays are 1.6 MB at
//! 100k items), and they preempt each other. A profile of `recd serve` under load on the
//! 1M × 100k model showed the CPU zeroing fresh pages and p90 latency far past the deadline;
//! a fixed pool keeps the scratch warm and turns overload into a queue, which the check at the
//! start of each recommendation job then sheds (a job that waited more than half its request's
//! deadline is not run; `routes/recommendations.rs`).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A fixed pool of compute threads.
pub struct Compute {
    pool: rayon::ThreadPool,
    /// Mean queue wait of the recent jobs in nanoseconds (an exponentially weighted mean
    /// over about [`WAIT_SPAN`] jobs), see [`Compute::waited`].
    mean_wait_ns: AtomicU64,
}

/// The number of recent jobs the mean queue wait follows (its weight is 1 / this).
const WAIT_SPAN: u64 = 16;

impl Compute {
    /// `threads` threads (0: one per core).
    pub fn new(threads: usize) -> Self {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("recd-compute-{i}"))
            // A panicking job drops its result sender: the request gets a 500, the pool lives.
            .panic_handler(|_| tracing::error!("a compute job panicked"))
            .build()
            .expect("starting the compute threads");
        Self {
            pool,
            mean_wait_ns: AtomicU64::new(0),
        }
    }

    /// Records that a job waited `waited` in the queue before it started, and returns the
    /// mean wait of the recent jobs, this one included. One late job says the machine
    /// stalled for a moment (a shared VM does that every few seconds); the mean says the
    /// queue is behind, which is what degrading answers is for: it drains the queue under
    /// true overload, while a stall's few late jobs are still answered in full. Racing
    /// updates may lose one sample, which a mean over many jobs does not mind.
    pub fn waited(&self, waited: Duration) -> Duration {
        let w = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        let mean = self.mean_wait_ns.load(Ordering::Relaxed);
        let next = if w >= mean {
            mean + (w - mean) / WAIT_SPAN
        } else {
            mean - (mean - w) / WAIT_SPAN
        };
        self.mean_wait_ns.store(next, Ordering::Relaxed);
        Duration::from_nanos(next)
    }

    /// Runs `f` on the pool; `None` if it panicked.
    pub fn run<T, F>(&self, f: F) -> impl Future<Output = Option<T>> + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pool.spawn(move || {
            let _ = tx.send(f());
        });
        async move { rx.await.ok() }
    }
}

impl Default for Compute {
    fn default() -> Self {
        Self::new(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_wait_follows_a_backlog_but_not_one_stall() {
        let pool = Compute::new(1);
        let ms = Duration::from_millis;
        for _ in 0..100 {
            pool.waited(Duration::from_micros(200));
        }
        // A stall: five jobs late by up to 5 ms, then the queue is drained.
        let after_stall = (1..=5).map(|k| pool.waited(ms(k))).max().unwrap();
        assert!(after_stall < ms(2), "{after_stall:?}");
        for _ in 0..30 {
            pool.waited(Duration::from_micros(200));
        }
        assert!(pool.waited(Duration::from_micros(200)) < ms(1));
        // A backlog: every job waits longer than the one before.
        let mut mean = Duration::ZERO;
        for k in 0..40u64 {
            mean = pool.waited(Duration::from_micros(2000 + 250 * k));
        }
        assert!(mean > ms(2), "{mean:?}");
    }
}
