//! Who is alive in one role of a fleet (the API processes), so that a process can take its
//! share of something the fleet shares out, such as a rate limit.
//!
//! A sorted set `<prefix>:{<role>}:members` on the feature store's Redis, scored by when each
//! member's membership expires; each heartbeat renews the caller, drops the expired and counts
//! the rest, in one script (one key: cluster-safe).

use std::time::Duration;

use crate::redis_streams::conn::{Client, Lazy};
use crate::{BusConfig, BusError};

/// Renews member ARGV[2] until ARGV[1], drops those expired by ARGV[3], counts the rest.
const HEARTBEAT: &str = r#"
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
return redis.call('ZCARD', KEYS[1])
"#;

/// This process's membership in a role of the fleet.
pub struct FleetMembers {
    conn: Lazy,
    key: String,
    member: String,
    ttl: Duration,
}

impl FleetMembers {
    /// Membership of `member` in `role` of `config`'s fleet, on the Redis at `url` (`key`
    /// names the setting it came from); a member that stops heartbeating leaves after `ttl`.
    pub fn open(
        url: &str,
        key: &str,
        config: &BusConfig,
        role: &str,
        member: String,
        ttl: Duration,
    ) -> Result<Self, BusError> {
        let client = Client::open_url(url, key, config)?;
        Ok(Self::with_key(
            Lazy::new(client, config.clone()),
            format!("{}:{{{role}}}:members", config.prefix),
            member,
            ttl,
        ))
    }

    /// Membership in the set at `key`, over `conn`.
    pub(crate) fn with_key(conn: Lazy, key: String, member: String, ttl: Duration) -> Self {
        Self {
            conn,
            key,
            member,
            ttl,
        }
    }

    /// Says this member is alive for another `ttl`; returns how many members are (itself
    /// included).
    pub fn heartbeat(&mut self) -> Result<usize, BusError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let until = now + self.ttl.as_millis() as u64;
        let (key, member) = (&self.key, &self.member);
        let n: usize = self.conn.with(|c| {
            redis::cmd("EVAL")
                .arg(HEARTBEAT)
                .arg(1)
                .arg(key)
                .arg(until)
                .arg(member)
                .arg(now)
                .query(c)
        })?;
        Ok(n.max(1))
    }

    /// Leaves the role (a graceful stop), so the others' shares grow at once.
    pub fn leave(&mut self) -> Result<(), BusError> {
        let (key, member) = (&self.key, &self.member);
        self.conn
            .with(|c| redis::cmd("ZREM").arg(key).arg(member).query::<i64>(c))?;
        Ok(())
    }
}
