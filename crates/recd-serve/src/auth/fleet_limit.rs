//! Rate limits counted for the whole fleet (DECISIONS §3: rate-limit counters live in Redis).
//!
//! Each configured limit of `rate` per second becomes a limit of `rate × burst_secs` requests
//! in a sliding window of `burst_secs` seconds, estimated from two fixed windows the way most
//! gateways do: the previous window's count, weighted by how much of it still overlaps the
//! sliding one, plus the current window's. Counts live on the fleet's Redis
//! ([`recd_bus::FleetCounters`]), so a caller gets its limit whichever API processes the
//! balancer sends it to.
//!
//! A request is not a write to Redis: on the durable Redis of the scaled topology every write
//! waits for an fsync. Each process counts locally and sends its counts in one batch every
//! [`SYNC_EVERY`], hearing back the fleet's totals. Between two batches a process lets through
//! at most its share (1 / live API processes) of a limit on its own, so a burst spread over
//! every process at once overshoots a limit by at most one limit, and a steady caller gets
//! exactly its limit. When the counts are not current (Redis unreachable for [`STALE`]), the
//! guard falls back to each process enforcing its share alone (`limit::Limits`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use recd_bus::{CounterAdd, CounterTotals};

/// How often a process sends its counts and hears the fleet's.
pub const SYNC_EVERY: Duration = Duration::from_millis(100);

/// How old the last heard fleet counts may be before the guard stops deciding by them.
pub const STALE: Duration = Duration::from_secs(2);

/// Where the fleet's counts are added up: [`recd_bus::FleetCounters`], or a fake in tests.
pub trait SharedCounters: Send + Sync {
    /// Adds `adds` to window `window` of `window_ms` (and the one before) and answers the
    /// fleet's totals of each counter, in the order of `adds`.
    fn add(
        &self,
        window_ms: u64,
        window: u64,
        adds: &[CounterAdd],
    ) -> Result<Vec<CounterTotals>, String>;
}

impl SharedCounters for recd_bus::FleetCounters {
    fn add(
        &self,
        window_ms: u64,
        window: u64,
        adds: &[CounterAdd],
    ) -> Result<Vec<CounterTotals>, String> {
        recd_bus::FleetCounters::add(self, window_ms, window, adds).map_err(|e| e.to_string())
    }
}

/// One counter as this process knows it.
#[derive(Debug, Default)]
struct Count {
    window: u64,
    /// The fleet's totals at the last batch (this process's sent counts included).
    fleet_now: u64,
    fleet_before: u64,
    /// Counted here and not sent yet.
    mine_now: u64,
    mine_before: u64,
}

impl Count {
    /// Moves the counts on to `window`: the current one becomes the one before, anything
    /// older no longer overlaps the sliding window.
    fn roll(&mut self, window: u64) {
        if self.window == window {
            return;
        }
        if window == self.window + 1 {
            (self.fleet_before, self.mine_before) = (self.fleet_now, self.mine_now);
        } else {
            (self.fleet_before, self.mine_before) = (0, 0);
        }
        (self.fleet_now, self.mine_now, self.window) = (0, 0, window);
    }

    fn unsent(&self) -> u64 {
        self.mine_now + self.mine_before
    }
}

/// The fleet-wide counts of one API process. See the module docs.
pub struct FleetLimits {
    counters: Box<dyn SharedCounters>,
    window_ms: u64,
    counts: Mutex<HashMap<String, Count>>,
    /// When the fleet's counts were last heard (ms since the epoch; 0: never).
    heard_ms: AtomicU64,
    /// Live API processes, for the share one may let through between two batches.
    members: AtomicUsize,
}

impl FleetLimits {
    /// Counts on `counters`, in windows of `burst_secs` seconds (at least 1).
    pub fn new(counters: Box<dyn SharedCounters>, burst_secs: u32) -> Self {
        Self {
            counters,
            window_ms: u64::from(burst_secs.max(1)) * 1_000,
            counts: Mutex::default(),
            heard_ms: AtomicU64::new(0),
            members: AtomicUsize::new(1),
        }
    }

    /// `n` API processes are alive.
    pub fn set_members(&self, n: usize) {
        self.members.store(n.max(1), Ordering::Relaxed);
    }

    /// Whether the fleet's counts were heard recently enough to decide by, at `now_ms`.
    pub fn current(&self, now_ms: u64) -> bool {
        let heard = self.heard_ms.load(Ordering::Relaxed);
        heard > 0 && now_ms.saturating_sub(heard) <= STALE.as_millis() as u64
    }

    /// Counts one request on `counter`, limited to `per_sec` (> 0); `Err(wait)` when over.
    pub fn check(&self, counter: &str, per_sec: u32, now_ms: u64) -> Result<(), Duration> {
        let limit = u64::from(per_sec).saturating_mul(self.window_ms / 1_000);
        let window = now_ms / self.window_ms;
        let into = (now_ms % self.window_ms) as f64 / self.window_ms as f64;
        let mut counts = self.lock();
        let count = match counts.get_mut(counter) {
            Some(c) => c,
            None => counts.entry(counter.to_string()).or_insert(Count {
                window,
                ..Count::default()
            }),
        };
        count.roll(window);
        let before = (count.fleet_before + count.mine_before) as f64;
        let now = (count.fleet_now + count.mine_now) as f64;
        let limit_f = limit as f64;
        if before * (1.0 - into) + now >= limit_f {
            return Err(self.wait(before, now, limit_f, into));
        }
        let share = limit
            .div_ceil(self.members.load(Ordering::Relaxed) as u64)
            .max(1);
        if count.unsent() >= share {
            // This process's share until the next batch tells it what the others did.
            return Err(SYNC_EVERY);
        }
        count.mine_now += 1;
        Ok(())
    }

    /// How long until the sliding window's estimate drops under `limit`.
    fn wait(&self, before: f64, now: f64, limit: f64, into: f64) -> Duration {
        let window = self.window_ms as f64;
        let ms = if now >= limit || before <= 0.0 {
            // Not before the next window, where this one weighs `now` and slides out.
            let next = if now > 0.0 {
                (1.0 - limit / now).max(0.0)
            } else {
                0.0
            };
            (1.0 - into + next) * window
        } else {
            // When the window before has slid out far enough.
            ((1.0 - (limit - now) / before) - into).max(0.0) * window
        };
        Duration::from_millis(ms.ceil().max(1.0) as u64)
    }

    /// Sends this process's counts and takes in the fleet's totals, at `now_ms`; forgets
    /// counters no longer in the sliding window. Returns how many counters were sent.
    pub fn sync(&self, now_ms: u64) -> Result<usize, String> {
        let window = now_ms / self.window_ms;
        let adds: Vec<CounterAdd> = {
            let mut counts = self.lock();
            counts.retain(|_, c| {
                c.roll(window);
                c.fleet_now + c.fleet_before + c.unsent() > 0
            });
            counts
                .iter()
                .filter(|(_, c)| c.unsent() > 0)
                .map(|(field, c)| CounterAdd {
                    field: field.clone(),
                    now: c.mine_now,
                    before: c.mine_before,
                })
                .collect()
        };
        let totals = self.counters.add(self.window_ms, window, &adds)?;
        if totals.len() != adds.len() {
            return Err(format!(
                "the fleet's counters answered {} totals for {} counters",
                totals.len(),
                adds.len()
            ));
        }
        let mut counts = self.lock();
        for (add, total) in adds.iter().zip(totals) {
            let Some(c) = counts.get_mut(&add.field) else {
                continue;
            };
            if c.window == window {
                (c.fleet_now, c.fleet_before) = (total.now, total.before);
                c.mine_now = c.mine_now.saturating_sub(add.now);
                c.mine_before = c.mine_before.saturating_sub(add.before);
            } else if c.window == window + 1 {
                // The window turned during the round trip: what was sent as this window's
                // is the one before now.
                c.fleet_before = total.now;
                c.mine_before = c.mine_before.saturating_sub(add.now);
            }
        }
        drop(counts);
        self.heard_ms.store(now_ms.max(1), Ordering::Relaxed);
        Ok(adds.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Count>> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Redis's hashes, in memory: (window ms, window, field) → count.
    #[derive(Default)]
    struct Fake {
        counts: Mutex<HashMap<(u64, u64, String), u64>>,
        down: std::sync::atomic::AtomicBool,
    }

    impl SharedCounters for Arc<Fake> {
        fn add(&self, ms: u64, w: u64, adds: &[CounterAdd]) -> Result<Vec<CounterTotals>, String> {
            if self.down.load(Ordering::Relaxed) {
                return Err("down".into());
            }
            let mut counts = self.counts.lock().unwrap();
            let mut out = Vec::new();
            for a in adds {
                let mut bump = |w: u64, n: u64| {
                    let c = counts.entry((ms, w, a.field.clone())).or_default();
                    *c += n;
                    *c
                };
                let now = bump(w, a.now);
                let before = bump(w.wrapping_sub(1), a.before);
                out.push(CounterTotals { now, before });
            }
            Ok(out)
        }
    }

    fn fleet(fake: &Arc<Fake>, burst_secs: u32, members: usize) -> FleetLimits {
        let f = FleetLimits::new(Box::new(fake.clone()), burst_secs);
        f.set_members(members);
        f
    }

    fn allowed(f: &FleetLimits, n: usize, at: u64) -> usize {
        (0..n).filter(|_| f.check("k", 2, at).is_ok()).count()
    }

    #[test]
    fn a_caller_gets_its_limit_once_whichever_processes_it_calls() {
        let fake = Arc::new(Fake::default());
        // 2 per second over 10-second windows: 20 per window, 10 per process between batches.
        let (a, b) = (fleet(&fake, 10, 2), fleet(&fake, 10, 2));
        let t = 1_000_000_000; // the start of a window
        assert!(!a.current(t), "nothing heard yet");
        assert_eq!(
            allowed(&a, 30, t),
            10,
            "A's share before it hears the fleet"
        );
        a.sync(t).unwrap();
        assert!(a.current(t));
        assert_eq!(allowed(&a, 30, t + 1), 10, "the rest of the window");
        a.sync(t + 2).unwrap();
        b.sync(t + 2).unwrap();
        assert_eq!(
            allowed(&b, 30, t + 3),
            10,
            "B has not heard of this caller yet"
        );
        b.sync(t + 4).unwrap();
        // B now knows the fleet let 30 through: nothing until the window slides.
        assert_eq!(allowed(&b, 5, t + 5), 0);
        let wait = b.check("k", 2, t + 5).unwrap_err();
        assert!(wait > Duration::from_secs(10), "{wait:?}");
    }

    #[test]
    fn a_steady_caller_on_one_process_gets_the_configured_rate() {
        let fake = Arc::new(Fake::default());
        let a = fleet(&fake, 1, 3);
        let mut ok = 0;
        // 10 requests a second for 10 seconds, a batch every 100 ms: 2 per second pass.
        for tick in 0..100u64 {
            let at = 2_000_000_000 + tick * 100;
            ok += usize::from(a.check("k", 2, at).is_ok());
            a.sync(at + 50).unwrap();
        }
        assert!((19..=22).contains(&ok), "{ok} in 10 s at 2 per second");
    }

    #[test]
    fn the_window_before_weighs_what_still_overlaps_the_sliding_window() {
        let fake = Arc::new(Fake::default());
        let a = fleet(&fake, 1, 1);
        let t = 3_000_000_000;
        assert_eq!(allowed(&a, 5, t), 2);
        a.sync(t).unwrap();
        // Half-way into the next window, half of the 2 of the one before still counts.
        assert_eq!(allowed(&a, 5, t + 1_500), 1);
        let wait = a.check("k", 2, t + 1_500).unwrap_err();
        assert!(wait <= Duration::from_millis(600), "{wait:?}");
        // Two windows on, nothing counts.
        assert_eq!(allowed(&a, 5, t + 3_000), 2);
    }

    #[test]
    fn counts_go_stale_when_the_fleet_cannot_be_heard_and_are_sent_once_it_can() {
        let fake = Arc::new(Fake::default());
        let a = fleet(&fake, 10, 1);
        let t = 4_000_000_000;
        a.sync(t).unwrap();
        assert_eq!(allowed(&a, 3, t), 3);
        fake.down.store(true, Ordering::Relaxed);
        assert!(a.sync(t + 100).is_err());
        assert!(a.current(t + 100));
        assert!(!a.current(t + 2_500), "stale after STALE");
        fake.down.store(false, Ordering::Relaxed);
        assert_eq!(a.sync(t + 2_600).unwrap(), 1);
        let key = (10_000, t / 10_000, "k".to_string());
        assert_eq!(
            fake.counts.lock().unwrap()[&key],
            3,
            "nothing counted twice"
        );
        // Idle counters are forgotten once out of the sliding window.
        assert_eq!(a.sync(t + 30_000).unwrap(), 0);
        assert!(a.lock().is_empty());
    }
}
