//! Whether the Redis behind the bus makes an acknowledged append durable.
//!
//! Redis acknowledges a write once it is in memory. An acknowledged event survives a Redis
//! crash only with the append-only file synced on every write (`appendonly yes`,
//! `appendfsync always`: the reply is sent after the fsync), or once replicas have it
//! (`WAIT`). And an evicting `maxmemory-policy` would drop stream entries under memory
//! pressure, so only `noeviction` is safe. The bus refuses appends, with a message naming
//! the setting, until the server says so (unless `bus.require_durable` is off).

use std::sync::atomic::{AtomicBool, Ordering};

use super::conn::Lazy;
use crate::{BusConfig, BusError};

static CLUSTER_WARNED: AtomicBool = AtomicBool::new(false);

/// Pings Redis and checks its settings (see the module docs).
pub(crate) fn check(conn: &mut Lazy, config: &BusConfig, is_cluster: bool) -> Result<(), BusError> {
    conn.with(|c| redis::cmd("PING").query::<String>(c))?;
    if !config.require_durable {
        return Ok(());
    }
    if is_cluster {
        // A routed CONFIG GET reads one node, not every master: say what must hold instead.
        if config.wait_replicas == 0 && !CLUSTER_WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "event bus on a Redis Cluster without bus.wait_replicas: every master must run \
                 with appendonly yes, appendfsync always and maxmemory-policy noeviction for \
                 acknowledged events to survive a crash, and a failover to a replica can still \
                 lose what it had not received; recd cannot check every node"
            );
        }
        return Ok(());
    }
    let get = |conn: &mut Lazy, key: &str| -> Result<String, BusError> {
        let pair: Vec<String> = conn
            .with(|c| redis::cmd("CONFIG").arg("GET").arg(key).query(c))
            .map_err(|e| {
                BusError::Config(format!(
                    "cannot read the Redis setting {key} ({e}); the bus needs it to know that \
                     appends are durable (set bus.require_durable = false to run without)"
                ))
            })?;
        Ok(pair.get(1).cloned().unwrap_or_default())
    };
    let policy = get(conn, "maxmemory-policy")?;
    if policy != "noeviction" {
        return Err(BusError::Config(format!(
            "Redis runs with maxmemory-policy {policy}, which may evict stream entries: \
             set maxmemory-policy noeviction (or bus.require_durable = false)"
        )));
    }
    if config.wait_replicas > 0 {
        return Ok(());
    }
    let aof = get(conn, "appendonly")?;
    let fsync = get(conn, "appendfsync")?;
    if aof != "yes" || fsync != "always" {
        return Err(BusError::Config(format!(
            "Redis runs with appendonly {aof} and appendfsync {fsync}: an acknowledged event \
             would not survive a Redis crash. Set appendonly yes and appendfsync always, or \
             bus.wait_replicas to a number of replicas (or bus.require_durable = false)"
        )));
    }
    Ok(())
}
