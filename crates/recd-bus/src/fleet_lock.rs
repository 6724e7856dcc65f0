//! A lock held by one process of a fleet at a time, such as the training lock (DECISIONS §3:
//! the training lock lives in Redis in scaled mode), so that two trainings started by two API
//! processes' schedules, or by hand, never overlap.
//!
//! The key `<prefix>:{<name>}:lock` on the feature store's Redis holds the holder's token and
//! expires after the lease time; a thread renews it at a third of that time while the guard
//! lives, by a compare-and-act script (a holder whose lease ran out cannot renew its
//! successor's). Dropping the guard deletes it the same way. A holder that dies frees the lock
//! after the lease time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::redis_streams::conn::{Client, Lazy};
use crate::redis_streams::lease::{RELEASE, RENEW};
use crate::{BusConfig, BusError, SharedDedupe};

/// A held fleet lock; released when dropped.
pub struct FleetLock {
    stop: Arc<AtomicBool>,
    /// Set by the renewer when the lease ran out under another holder.
    lost: Arc<AtomicBool>,
    renewer: Option<std::thread::JoinHandle<()>>,
}

impl FleetLock {
    /// Takes lock `name` of `config`'s fleet on the Redis at `url` (`key` names the setting it
    /// came from): `Ok(None)` when another process holds it. `lease` is how long it outlives
    /// a holder that died.
    pub fn try_acquire(
        url: &str,
        key: &str,
        config: &BusConfig,
        name: &str,
        lease: Duration,
    ) -> Result<Option<Self>, BusError> {
        let client = Client::open_url(url, key, config)?;
        let mut conn = Lazy::new(client, config.clone());
        let lock_key = format!("{}:{{{name}}}:lock", config.prefix);
        let token = SharedDedupe::token();
        let ms = lease.as_millis().max(1) as u64;
        let set: Option<String> = conn.with(|c| {
            redis::cmd("SET")
                .arg(&lock_key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(ms)
                .query(c)
        })?;
        if set.is_none() {
            return Ok(None);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let lost = Arc::new(AtomicBool::new(false));
        let lose = lost.clone();
        let renewer = std::thread::Builder::new()
            .name(format!("recd-lock-{name}"))
            .spawn(move || {
                let every = Duration::from_millis(ms / 3);
                let mut waited = Duration::ZERO;
                let tick = Duration::from_millis(50).min(every);
                loop {
                    if stopped.load(Ordering::Acquire) {
                        let _ = conn.with(|c| {
                            redis::cmd("EVAL")
                                .arg(RELEASE)
                                .arg(1)
                                .arg(&lock_key)
                                .arg(&token)
                                .query::<i64>(c)
                        });
                        return;
                    }
                    std::thread::sleep(tick);
                    waited += tick;
                    if waited < every {
                        continue;
                    }
                    waited = Duration::ZERO;
                    let renewed = conn.with(|c| {
                        redis::cmd("EVAL")
                            .arg(RENEW)
                            .arg(1)
                            .arg(&lock_key)
                            .arg(&token)
                            .arg(ms)
                            .query::<i64>(c)
                    });
                    match renewed {
                        Ok(1) => {}
                        Ok(_) => {
                            tracing::error!(lock = %lock_key, "the fleet lock was lost (this process paused for longer than its lease): another process may now hold it");
                            lose.store(true, Ordering::Release);
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(lock = %lock_key, error = %e, "cannot renew the fleet lock; retrying");
                        }
                    }
                }
            })
            .map_err(|e| BusError::Config(format!("cannot start the lock renewer: {e}")))?;
        Ok(Some(Self {
            stop,
            lost,
            renewer: Some(renewer),
        }))
    }

    /// Whether this process still holds the lock: false once a renewal found the lease run
    /// out (then another process may hold it, and this guard only waits to be dropped).
    pub fn held(&self) -> bool {
        !self.lost.load(Ordering::Acquire)
    }
}

impl Drop for FleetLock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
    }
}
