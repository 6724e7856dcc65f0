//! The dedupe window shared by every API process of a fleet (DECISIONS §3: idempotency
//! windows live in Redis), so that a retry reaching another process behind the load balancer
//! is still answered as a duplicate with its original position, never appended twice.
//!
//! Where: on the feature store's Redis (as the [`crate::Leases`] are), one hash of
//! `event id → state` and one sorted set of `event id → stamp` per partition, under the
//! partition's hash tag (`<prefix>:{p<n>}:dedupe` and `…:dedupe:t`), so on a cluster the
//! window is spread the way the users are. An event's partition is its user's, the same for
//! every retry of it.
//!
//! How: the same claim / complete / release protocol as the process-local window, each step
//! one script per partition, so it is atomic there. A claimed id is *pending*
//! (`p:<token>:<until>`) until its append is durable, then holds its offset (`o:<offset>`).
//! A claim that finds another request's pending id answers [`SharedClaim::Busy`]: the caller
//! waits and claims again. A pending id whose owner died (nobody completes or releases it)
//! counts as absent after `until` (the append deadline plus a margin), so a retry is appended
//! then rather than waiting forever; only an append that outlives its own deadline can be
//! duplicated that way.
//!
//! Bounds: each claim first drops the partition's entries stamped more than the window ago,
//! then its oldest past the partition's share of the cap (at most 512 of each per call, so a
//! script stays short). What an entry costs Redis is measured by `dedupe::memory_per_entry` in
//! this crate's tests; docs/deploy.md has the figure and what it means for the cap.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use recd_store::Offset;
use recd_types::TimestampMs;

use crate::redis_streams::conn::{Client, Lazy};
use crate::{BusConfig, BusError};

const CLAIM: &str = r#"
local cutoff = ARGV[1]
local cap = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local function forget(ids)
  if #ids > 0 then
    redis.call('HDEL', KEYS[1], unpack(ids))
    redis.call('ZREM', KEYS[2], unpack(ids))
  end
end
forget(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. cutoff, 'LIMIT', 0, 512))
local over = redis.call('ZCARD', KEYS[2]) - cap
if over > 0 then forget(redis.call('ZRANGE', KEYS[2], 0, math.min(over, 512) - 1)) end
local out = {'ok'}
for i = 6, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and string.sub(v, 1, 2) == 'p:' then
    local till = tonumber(string.match(v, ':(%d+)$'))
    if till and till > now then return {'busy'} end
    v = false
  end
  out[#out + 1] = v or ''
end
local pending = 'p:' .. ARGV[4] .. ':' .. ARGV[5]
for i = 6, #ARGV do
  if out[i - 4] == '' then
    redis.call('HSET', KEYS[1], ARGV[i], pending)
    redis.call('ZADD', KEYS[2], ARGV[3], ARGV[i])
  end
end
return out
"#;

const COMPLETE: &str = r#"
local mine = 'p:' .. ARGV[2] .. ':'
for i = 3, #ARGV, 2 do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if not v or string.sub(v, 1, #mine) == mine then
    redis.call('HSET', KEYS[1], ARGV[i], 'o:' .. ARGV[i + 1])
    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
  end
end
return 1
"#;

const RELEASE: &str = r#"
local mine = 'p:' .. ARGV[1] .. ':'
for i = 2, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and string.sub(v, 1, #mine) == mine then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
  end
end
return 1
"#;

/// The outcome of [`SharedDedupe::claim`] for a batch, by position in the batch.
#[derive(Debug, PartialEq, Eq)]
pub enum SharedClaim {
    /// The ids at `fresh` are now claimed by the caller; those at `seen` are durable at
    /// their offsets (in their user's partition).
    Ready {
        /// Positions now claimed.
        fresh: Vec<usize>,
        /// Positions already durable, with their offsets.
        seen: Vec<(usize, Offset)>,
    },
    /// Another request is appending one of these ids: nothing was claimed; wait and retry.
    Busy,
}

/// A dedupe window on Redis shared by a fleet. See the module docs.
pub struct SharedDedupe {
    /// A few connections, so concurrent requests do not queue behind one round trip.
    conns: Vec<Mutex<Lazy>>,
    /// A Redis Cluster (no pipelines).
    cluster: bool,
    next: AtomicUsize,
    config: BusConfig,
    window_ms: i64,
    cap_per_partition: usize,
    pending_ms: i64,
}

/// Connections per process: requests in flight each hold one for a round trip, and a durable
/// Redis answers a round trip only after its fsync, which it shares among all the commands
/// that arrived meanwhile, so more connections in flight cost no more fsyncs.
const CONNECTIONS: usize = 16;

impl SharedDedupe {
    /// The window of `config`'s bus kept on the Redis at `url` (`key` names the setting it
    /// came from, for errors): entries live `window_ms`, at most `max_entries` over all
    /// partitions, and a claim not completed counts as abandoned after `pending_ms`.
    /// Connects on first use.
    pub fn open(
        url: &str,
        key: &str,
        config: &BusConfig,
        window_ms: i64,
        max_entries: usize,
        pending_ms: i64,
    ) -> Result<Self, BusError> {
        let client = Client::open_url(url, key, config)?;
        let partitions = config.partitions.max(1) as usize;
        Ok(Self {
            conns: (0..CONNECTIONS)
                .map(|_| Mutex::new(Lazy::new(client.clone(), config.clone())))
                .collect(),
            next: AtomicUsize::new(0),
            cluster: client.is_cluster(),
            config: config.clone(),
            window_ms: window_ms.max(0),
            cap_per_partition: max_entries.div_ceil(partitions),
            pending_ms: pending_ms.max(1),
        })
    }

    /// A token naming one claim (one request), unique across the fleet's processes.
    pub fn token() -> String {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!(
            "{:x}.{:x}.{:x}",
            std::process::id(),
            nanos,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Claims the ids of a batch (`None`: an event without an id; else its partition and
    /// id), all or none: see [`SharedClaim`]. Ids must be distinct. One script per partition
    /// touched; when a later partition is busy, the claims already made are released.
    pub fn claim(
        &self,
        ids: &[Option<(u32, &str)>],
        token: &str,
        now_ms: TimestampMs,
    ) -> Result<SharedClaim, BusError> {
        let mut fresh = Vec::new();
        let mut seen = Vec::new();
        let mut claimed: Vec<(u32, &str)> = Vec::new();
        let until = now_ms.saturating_add(self.pending_ms);
        let cutoff = now_ms.saturating_sub(self.window_ms);
        let groups = by_partition(ids);
        let calls = groups
            .iter()
            .map(|(p, group)| {
                let (hash, times) = self.keys(*p);
                let mut call = script(CLAIM, &hash, &times);
                call.arg(cutoff)
                    .arg(self.cap_per_partition)
                    .arg(now_ms)
                    .arg(token)
                    .arg(until);
                for (_, id) in group {
                    call.arg(*id);
                }
                call
            })
            .collect();
        let answers: Vec<Vec<String>> = self.run(calls)?;
        let mut busy = false;
        for ((p, group), answer) in groups.iter().zip(&answers) {
            if answer.first().map(String::as_str) != Some("ok") {
                busy = true;
                continue;
            }
            for ((pos, id), state) in group.iter().zip(&answer[1..]) {
                match state.strip_prefix("o:").and_then(|o| o.parse().ok()) {
                    Some(offset) => seen.push((*pos, offset)),
                    None => {
                        fresh.push(*pos);
                        claimed.push((*p, *id));
                    }
                }
            }
        }
        if busy {
            // All or none: what the other partitions' scripts claimed goes back.
            self.release_quietly(&claimed, token);
            return Ok(SharedClaim::Busy);
        }
        fresh.sort_unstable();
        seen.sort_unstable();
        Ok(SharedClaim::Ready { fresh, seen })
    }

    /// Records that claimed ids are durable: `(partition, id, offset)`, stamped `now_ms`.
    pub fn complete(
        &self,
        done: &[(u32, &str, Offset)],
        token: &str,
        now_ms: TimestampMs,
    ) -> Result<(), BusError> {
        let mut groups: BTreeMap<u32, Vec<(&str, Offset)>> = BTreeMap::new();
        for &(p, id, offset) in done {
            groups.entry(p).or_default().push((id, offset));
        }
        let calls = groups
            .into_iter()
            .map(|(p, group)| {
                let (hash, times) = self.keys(p);
                let mut call = script(COMPLETE, &hash, &times);
                call.arg(now_ms).arg(token);
                for (id, offset) in group {
                    call.arg(id).arg(offset);
                }
                call
            })
            .collect();
        self.run::<i64>(calls)?;
        Ok(())
    }

    /// Forgets this token's claims on `ids` (their append failed): a retry may append them.
    pub fn release(&self, ids: &[(u32, &str)], token: &str) -> Result<(), BusError> {
        let wrapped: Vec<Option<(u32, &str)>> = ids.iter().copied().map(Some).collect();
        let calls = by_partition(&wrapped)
            .into_iter()
            .map(|(p, group)| {
                let (hash, times) = self.keys(p);
                let mut call = script(RELEASE, &hash, &times);
                call.arg(token);
                for (_, id) in group {
                    call.arg(id);
                }
                call
            })
            .collect();
        self.run::<i64>(calls)?;
        Ok(())
    }

    /// Whether the window's Redis answers (for readiness).
    pub fn check(&self) -> Result<(), BusError> {
        self.with(|c| redis::cmd("PING").query::<String>(c))
            .map(|_| ())
    }

    fn release_quietly(&self, ids: &[(u32, &str)], token: &str) {
        if ids.is_empty() {
            return;
        }
        if let Err(e) = self.release(ids, token) {
            // The claims lapse by themselves after the pending time.
            tracing::warn!(error = %e, "could not release dedupe claims; they lapse on their own");
        }
    }

    fn keys(&self, p: u32) -> (String, String) {
        let hash = format!("{}:dedupe", self.config.stream_key(p));
        let times = format!("{hash}:t");
        (hash, times)
    }

    /// Runs one script per partition: in one round trip (a pipeline) on a single server, one
    /// after the other on a cluster, whose connection takes no pipelines. Answers in order.
    fn run<T: redis::FromRedisValue>(&self, calls: Vec<redis::Cmd>) -> Result<Vec<T>, BusError> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        if self.cluster {
            return calls
                .iter()
                .map(|call| self.with(|c| call.query(c)))
                .collect();
        }
        let mut pipe = redis::pipe();
        for call in calls {
            pipe.add_command(call);
        }
        self.with(|c| pipe.query(c))
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut dyn redis::ConnectionLike) -> redis::RedisResult<T>,
    ) -> Result<T, BusError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        let mut conn = self.conns[i].lock().unwrap_or_else(|p| p.into_inner());
        conn.with(f)
    }
}

/// `EVAL body 2 hash times`, arguments to follow. EVAL rather than EVALSHA: the scripts are
/// small, Redis caches their compiled form, and a server restarted empty needs no reload.
fn script(body: &str, hash: &str, times: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(body).arg(2).arg(hash).arg(times);
    cmd
}

/// The ids of a batch grouped by partition, each with its position in the batch.
fn by_partition<'a>(ids: &[Option<(u32, &'a str)>]) -> BTreeMap<u32, Vec<(usize, &'a str)>> {
    let mut groups: BTreeMap<u32, Vec<(usize, &'a str)>> = BTreeMap::new();
    for (pos, id) in ids.iter().enumerate() {
        if let Some((p, id)) = id {
            groups.entry(*p).or_default().push((pos, id));
        }
    }
    groups
}
