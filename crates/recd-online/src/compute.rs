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

/// A fixed pool of compute threads.
pub struct Compute {
    pool: rayon::ThreadPool,
}

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
        Self { pool }
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
