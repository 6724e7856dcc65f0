//! Counters that every process of a fleet adds to, in fixed windows of time, such as the API
//! processes' rate-limit counts (DECISIONS §3: rate-limit counters live in Redis).
//!
//! Where: one hash per window on the feature store's Redis, `<prefix>:{<name>}:<window ms>:<n>`
//! (window `n` starts at `n × window ms` since the epoch), a field per counter. Callers add in
//! batches: one script adds a batch to this window and the one before (what was counted late),
//! and answers every counter's fleet-wide totals in both, in one round trip. All of a name's
//! windows share one hash tag, so the script touches one slot of a Redis Cluster. A window's
//! hash expires three window lengths after its last count.

use std::sync::Mutex;

use crate::redis_streams::conn::{Client, Lazy};
use crate::{BusConfig, BusError};

/// KEYS[1] this window, KEYS[2] the one before; ARGV[1] their lifetime in ms, then triples
/// (field, add to this window, add to the one before). Answers each field's totals in both.
const ADD: &str = r#"
local out = {}
for i = 2, #ARGV, 3 do
  local now = redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  local before
  if tonumber(ARGV[i + 2]) > 0 then
    before = redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 2])
  else
    before = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0')
  end
  out[#out + 1] = now
  out[#out + 1] = before
end
if #ARGV > 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return out
"#;

/// One counter's batch: what to add to the current window and to the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterAdd {
    /// The counter.
    pub field: String,
    /// Added to the window being counted.
    pub now: u64,
    /// Added to the window before it (counted there, sent late).
    pub before: u64,
}

/// The fleet's totals of one counter after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterTotals {
    /// In the window being counted.
    pub now: u64,
    /// In the window before it.
    pub before: u64,
}

/// A fleet's windowed counters on Redis. See the module docs.
pub struct FleetCounters {
    conn: Mutex<Lazy>,
    prefix: String,
}

impl FleetCounters {
    /// The counters `name` of `config`'s fleet on the Redis at `url` (`key` names the
    /// setting it came from, for errors). Connects on first use.
    pub fn open(url: &str, key: &str, config: &BusConfig, name: &str) -> Result<Self, BusError> {
        let client = Client::open_url(url, key, config)?;
        Ok(Self {
            conn: Mutex::new(Lazy::new(client, config.clone())),
            prefix: format!("{}:{{{name}}}", config.prefix),
        })
    }

    /// Adds `adds` to window `window` (of `window_ms` each) and the one before, and answers
    /// the fleet's totals of each counter there, in the order of `adds`. An empty batch only
    /// checks that Redis answers.
    pub fn add(
        &self,
        window_ms: u64,
        window: u64,
        adds: &[CounterAdd],
    ) -> Result<Vec<CounterTotals>, BusError> {
        let key = |n: u64| format!("{}:{window_ms}:{n}", self.prefix);
        let (now, before) = (key(window), key(window.saturating_sub(1)));
        let lifetime = window_ms.saturating_mul(3);
        let flat: Vec<u64> = self.lock().with(|c| {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(ADD).arg(2).arg(&now).arg(&before).arg(lifetime);
            for a in adds {
                cmd.arg(&a.field).arg(a.now).arg(a.before);
            }
            cmd.query(c)
        })?;
        Ok(flat
            .chunks_exact(2)
            .map(|p| CounterTotals {
                now: p[0],
                before: p[1],
            })
            .collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lazy> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}
