//! Partition leases: each partition is applied by one updater at a time.
//!
//! A lease is the key `<prefix>:{p<n>}:owner` on the feature store's Redis, whichever engine
//! carries the events (the lease guards the partition's applied offset kept there), holding
//! its owner's id and expiring after the lease time. The owner renews it well within
//! that time; an owner that dies stops renewing, and after the lease time any survivor takes
//! it. Renewal and release are compare-and-act scripts, so an owner whose lease expired (a
//! long pause) cannot extend or delete its successor's.
//!
//! A lease alone cannot stop a paused former owner from writing one more batch after a
//! successor took over. That is harmless here: the feature store records a partition's
//! applied offset with each batch and values carry the offsets they applied, so a batch
//! applied twice changes nothing twice.

use std::time::Duration;

use super::conn::{Client, Lazy};
use crate::FleetMembers;
use crate::{BusConfig, BusError};

/// Extends key KEYS[1] by ARGV[2] ms if it still holds ARGV[1].
pub(crate) const RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// Deletes key KEYS[1] if it still holds ARGV[1].
pub(crate) const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// The leases of one owner (a `recd stream` process) over a bus's partitions.
pub struct Leases {
    conn: Lazy,
    keys: Vec<String>,
    /// The live owners (the set `<prefix>:owners`).
    members: FleetMembers,
    owner: String,
    ttl: Duration,
}

impl Leases {
    /// The lease table of `owner` over the partitions of `config`'s bus, kept on the Redis at
    /// `url` (`features_key` names the setting it came from, for errors): the feature store's,
    /// since a lease guards the applied offset kept there, whichever engine carries the
    /// events. Connects on first use; a lease lasts `ttl` unless renewed.
    pub fn open(
        url: &str,
        features_key: &str,
        config: &BusConfig,
        owner: String,
        ttl: Duration,
    ) -> Result<Self, BusError> {
        let client = Client::open_url(url, features_key, config)?;
        let keys = (0..config.partitions)
            .map(|p| format!("{}:owner", config.stream_key(p)))
            .collect();
        let members = FleetMembers::with_key(
            Lazy::new(client.clone(), config.clone()),
            format!("{}:owners", config.prefix),
            owner.clone(),
            ttl,
        );
        Ok(Self::new(
            Lazy::new(client, config.clone()),
            keys,
            members,
            owner,
            ttl,
        ))
    }

    fn new(
        conn: Lazy,
        keys: Vec<String>,
        members: FleetMembers,
        owner: String,
        ttl: Duration,
    ) -> Self {
        Self {
            conn,
            keys,
            members,
            owner,
            ttl,
        }
    }

    /// Says this owner is alive for another lease time and returns how many owners are
    /// (this one included), so that each can hold its fair share of the partitions: the
    /// first process to start does not keep them all when others join.
    pub fn heartbeat(&mut self) -> Result<usize, BusError> {
        self.members.heartbeat()
    }

    /// Leaves the set of live owners (a graceful stop).
    pub fn leave(&mut self) -> Result<(), BusError> {
        self.members.leave()
    }

    /// This owner's id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Takes partition `p`'s lease if nobody holds it; true if this owner holds it now.
    pub fn acquire(&mut self, p: u32) -> Result<bool, BusError> {
        let key = &self.keys[p as usize];
        let ms = self.ttl.as_millis() as u64;
        let owner = &self.owner;
        let set: Option<String> = self.conn.with(|c| {
            redis::cmd("SET")
                .arg(key)
                .arg(owner)
                .arg("NX")
                .arg("PX")
                .arg(ms)
                .query(c)
        })?;
        Ok(set.is_some())
    }

    /// Extends partition `p`'s lease; false when this owner no longer holds it.
    pub fn renew(&mut self, p: u32) -> Result<bool, BusError> {
        let key = &self.keys[p as usize];
        let ms = self.ttl.as_millis() as u64;
        let owner = &self.owner;
        let renewed: i64 = self.conn.with(|c| {
            redis::cmd("EVAL")
                .arg(RENEW)
                .arg(1)
                .arg(key)
                .arg(owner)
                .arg(ms)
                .query(c)
        })?;
        Ok(renewed == 1)
    }

    /// Gives partition `p` up (a graceful stop), if this owner holds it.
    pub fn release(&mut self, p: u32) -> Result<(), BusError> {
        let key = &self.keys[p as usize];
        let owner = &self.owner;
        self.conn.with(|c| {
            redis::cmd("EVAL")
                .arg(RELEASE)
                .arg(1)
                .arg(key)
                .arg(owner)
                .query::<i64>(c)
        })?;
        Ok(())
    }

    /// Who holds partition `p`'s lease, if anyone.
    pub fn holder(&mut self, p: u32) -> Result<Option<String>, BusError> {
        let key = &self.keys[p as usize];
        self.conn.with(|c| redis::cmd("GET").arg(key).query(c))
    }
}
