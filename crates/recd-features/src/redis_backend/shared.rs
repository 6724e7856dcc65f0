//! Counters that several updaters write: item and category counters on a partitioned bus.
//!
//! Each partition's updater applies its own users' events, but every partition counts
//! engagement on the same items and categories. A plain read-then-`SET` by two updaters
//! would lose one's increments, so here each write is a compare-and-set: a one-key script
//! replaces the value only if it is still the one read, and a refused write is read,
//! recomputed and tried again. The recomputation is the same Rust code as everywhere
//! ([`apply_counters`], whose per-partition marks skip replays), one key per script, so it
//! works on a cluster.
//!
//! The trending index score is written after the counter, from the value written. Two
//! updaters' scores for one item can arrive out of order, leaving the index below the count
//! by the other's increments until the item's next write; counts read through the index are
//! always recomputed from the counters, so this only affects which items a top-k read visits.

use redis::{Cmd, Value};

use super::conn::Conn;
use super::{DAY_MS, categories_index, cmd1, decode, items_index, zadd};
use crate::apply::apply_counters;
use crate::{FeatureError, LoggedEvent, Window, WindowCounters};

/// Replaces `KEYS[1]` by ARGV[3] (expiring at ARGV[4]) if it still holds ARGV[2] (absent
/// when ARGV[1] is '0'); returns 1 when it did.
const COMPARE_AND_SET: &str = r#"
local cur = redis.call('GET', KEYS[1])
local same
if ARGV[1] == '0' then same = (cur == false) else same = (cur == ARGV[2]) end
if not same then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'PXAT', ARGV[4])
return 1
"#;

/// Most attempts for one key before the batch fails (and is retried from its offset).
const MAX_ATTEMPTS: usize = 16;

/// What a shared counter indexes under.
pub(super) enum Target<'a> {
    Item(&'a str),
    Category(&'a str),
}

/// One shared counter of the batch.
pub(super) struct Shared<'a> {
    pub(super) key: String,
    pub(super) target: Target<'a>,
    pub(super) events: Vec<&'a LoggedEvent>,
    /// The value read, as bytes (`None`: absent).
    pub(super) raw: Option<Vec<u8>>,
}

/// Raw bytes of a GET reply.
pub(super) fn raw(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b.clone()),
        _ => None,
    }
}

/// Writes every shared counter by compare-and-set, then their index entries.
pub(super) async fn write(
    conn: &Conn,
    mut pending: Vec<Shared<'_>>,
    partition: u32,
    now: i64,
) -> Result<(), FeatureError> {
    let mut index_writes: Vec<Cmd> = Vec::new();
    for attempt in 0..MAX_ATTEMPTS {
        if pending.is_empty() {
            break;
        }
        if attempt > 0 {
            // Refused: somebody wrote in between. Read again and recompute.
            let reads = pending.iter().map(|s| cmd1("GET", &s.key)).collect();
            let values = conn.run_all(reads).await?;
            for (s, v) in pending.iter_mut().zip(values) {
                s.raw = raw(&v);
            }
            metrics::counter!("recd_features_counter_conflicts_total")
                .increment(pending.len() as u64);
        }
        let mut cmds = Vec::new();
        let mut states = Vec::new();
        let mut keep = Vec::new();
        for s in pending.drain(..) {
            let stored: Option<WindowCounters> = s
                .raw
                .clone()
                .and_then(|b| decode(&s.key, Value::BulkString(b)));
            let track = matches!(s.target, Target::Item(_));
            let Some(state) = apply_counters(stored, &s.events, track, Some(partition)) else {
                continue; // Everything already applied by an earlier try of this batch.
            };
            let end = state.newest_ms().unwrap_or(now).max(now);
            let json = serde_json::to_string(&state).unwrap_or_default();
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(COMPARE_AND_SET)
                .arg(1)
                .arg(&s.key)
                .arg(if s.raw.is_some() { "1" } else { "0" })
                .arg(s.raw.as_deref().unwrap_or_default())
                .arg(json)
                .arg((end + DAY_MS).max(1));
            cmds.push(cmd);
            states.push((state, end));
            keep.push(s);
        }
        let replies = conn.run_all(cmds).await?;
        for ((s, (state, end)), reply) in keep.into_iter().zip(states).zip(replies) {
            if matches!(reply, Value::Int(1)) {
                index(&mut index_writes, &s.target, &state, end);
            } else {
                pending.push(s);
            }
        }
    }
    if !pending.is_empty() {
        return Err(FeatureError::Unavailable(format!(
            "{} shared counters kept changing under this updater ({MAX_ATTEMPTS} tries)",
            pending.len()
        )));
    }
    conn.run_all(index_writes).await?;
    Ok(())
}

fn index(writes: &mut Vec<Cmd>, target: &Target<'_>, state: &WindowCounters, end: i64) {
    for w in Window::ALL {
        let score = state.count(w, end);
        match target {
            Target::Item(id) => {
                writes.push(zadd(&items_index(w, None, id), score, id));
                if let Some(c) = &state.category {
                    writes.push(zadd(&items_index(w, Some(c), id), score, id));
                }
            }
            Target::Category(name) => writes.push(zadd(&categories_index(w, name), score, name)),
        }
    }
}
