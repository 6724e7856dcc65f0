//! The bus's one writer thread: group commit of queued appends, one script per partition.

use std::collections::BTreeMap;
use std::sync::mpsc::Receiver;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use super::conn::Lazy;
use super::durable;
use crate::position::offset_of_id;
use crate::{BusConfig, BusError, Position};

/// `XADD`s every record of the call to the stream `KEYS[1]`, in order, and returns their ids.
/// ARGV: max length (0: no cap), minimum id ("": no time limit), record schema, then the
/// records. One script, so a partition's share of a group lands whole or not at all, in one
/// round trip; on a cluster it touches one key, hence one slot.
const APPEND: &str = r#"
local ids = {}
for i = 4, #ARGV do
  if ARGV[1] ~= '0' then
    ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 's', ARGV[3], 'r', ARGV[i])
  else
    ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 's', ARGV[3], 'r', ARGV[i])
  end
end
if ARGV[2] ~= '' then
  redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[2])
end
return ids
"#;

/// One caller's append: `(partition, encoded record)` in the caller's order.
pub(crate) struct Request {
    pub(crate) parts: Vec<(u32, Vec<u8>)>,
    pub(crate) reply: oneshot::Sender<Result<Vec<Position>, BusError>>,
}

/// Runs until every sender is gone, answering each request once.
pub(crate) fn run(rx: Receiver<Request>, mut conn: Lazy, config: BusConfig) {
    let mut checked = false;
    while let Ok(first) = rx.recv() {
        let mut n = first.parts.len();
        let mut group = vec![first];
        while n < config.group_max_records {
            match rx.try_recv() {
                Ok(r) => {
                    n += r.parts.len();
                    group.push(r);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let outcome = if checked {
            Ok(())
        } else {
            durable::check(&mut conn, &config, is_cluster(&config))
        };
        let results = match outcome {
            Ok(()) => {
                checked = true;
                write_group(&mut conn, &config, &group)
            }
            Err(e) => {
                tracing::warn!(error = %e, "event bus refuses appends");
                vec![Err(e.to_string()); config.partitions as usize + 1]
            }
        };
        if results.iter().any(Result::is_err) {
            // A failed round trip may mean a new server behind the address: check again.
            checked = false;
        }
        answer(group, &results);
        metrics::histogram!("recd_bus_append_seconds").record(started.elapsed().as_secs_f64());
        metrics::counter!("recd_bus_records_appended_total").increment(n as u64);
    }
}

fn is_cluster(config: &BusConfig) -> bool {
    config.events.starts_with("redis+cluster://")
}

/// Writes the group partition by partition; entry `p` of the result is partition `p`'s
/// offsets (in the group's order) or why it failed.
fn write_group(
    conn: &mut Lazy,
    config: &BusConfig,
    group: &[Request],
) -> Vec<Result<Vec<u64>, String>> {
    let mut by_partition: BTreeMap<u32, Vec<&[u8]>> = BTreeMap::new();
    for req in group {
        for (p, bytes) in &req.parts {
            by_partition.entry(*p).or_default().push(bytes);
        }
    }
    let min_id = min_id(config);
    // One more slot: the catalog channel, which retention never trims.
    let mut results: Vec<Result<Vec<u64>, String>> =
        vec![Ok(Vec::new()); config.partitions as usize + 1];
    for (p, records) in by_partition {
        let catalog = p == config.catalog_partition();
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(APPEND)
            .arg(1)
            .arg(config.stream_key(p))
            .arg(if catalog { 0 } else { config.max_len })
            .arg(if catalog { "" } else { min_id.as_str() })
            .arg(recd_store::codec::RECORD_SCHEMA);
        for r in &records {
            cmd.arg(*r);
        }
        let res = conn
            .with(|c| cmd.query::<Vec<String>>(c))
            .map_err(|e| e.to_string())
            .and_then(|ids| {
                ids.iter()
                    .map(|id| offset_of_id(id).ok_or_else(|| format!("Redis returned the id {id:?}, which is not a stream id this bus can address")))
                    .collect::<Result<Vec<u64>, String>>()
            })
            .and_then(|offsets| {
                if offsets.len() == records.len() {
                    Ok(offsets)
                } else {
                    Err(format!("Redis added {} of {} records", offsets.len(), records.len()))
                }
            });
        results[p as usize] = res;
        if is_cluster(config) && results[p as usize].is_ok() {
            // Each partition's master has its own replicas: wait on each.
            if let Some(problem) = wait_replicas(conn, config, &config.stream_key(p)) {
                results[p as usize] = Err(problem);
            }
        }
    }
    let wrote = results
        .iter()
        .any(|r| r.as_ref().is_ok_and(|o| !o.is_empty()));
    if !is_cluster(config) && wrote {
        // One server: one WAIT covers every write of this connection.
        if let Some(problem) = wait_replicas(conn, config, "") {
            for r in results.iter_mut() {
                if r.is_ok() {
                    *r = Err(problem.clone());
                }
            }
        }
    }
    results
}

/// With `wait_replicas`, waits until that many replicas have what this connection wrote to
/// `key`'s node; the problem when they do not in time.
fn wait_replicas(conn: &mut Lazy, config: &BusConfig, key: &str) -> Option<String> {
    if config.wait_replicas == 0 {
        return None;
    }
    match conn.wait_for_replicas(key, config.wait_replicas, config.wait_timeout_ms) {
        Ok(n) if n >= config.wait_replicas => None,
        Ok(n) => Some(format!(
            "only {n} of {} replicas acknowledged within {} ms",
            config.wait_replicas, config.wait_timeout_ms
        )),
        Err(e) => Some(e.to_string()),
    }
}

/// The `MINID` of the retention window, or "" without one.
fn min_id(config: &BusConfig) -> String {
    if config.retention_hours == 0 {
        return String::new();
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let keep = config.retention_hours.saturating_mul(3_600_000);
    format!("{}-0", now.saturating_sub(keep))
}

/// Gives each request its positions, or the first failure among its partitions.
fn answer(group: Vec<Request>, results: &[Result<Vec<u64>, String>]) {
    let mut next = vec![0usize; results.len()];
    for req in group {
        let mut positions = Vec::with_capacity(req.parts.len());
        let mut failure = None;
        for (p, _) in &req.parts {
            let i = *p as usize;
            match &results[i] {
                Ok(offsets) => {
                    positions.push(Position {
                        partition: *p,
                        offset: offsets[next[i]],
                    });
                    next[i] += 1;
                }
                Err(e) => {
                    failure.get_or_insert_with(|| {
                        BusError::Unavailable(format!("partition {p}: {e}"))
                    });
                }
            }
        }
        let _ = req.reply.send(match failure {
            Some(e) => Err(e),
            None => Ok(positions),
        });
    }
}
