//! Values that each process of a fleet publishes under its own name, and that any process
//! reads all of, such as the API processes' experiment tallies (`recd_attribution::fleet`).
//!
//! Where: one hash on the feature store's Redis, `<prefix>:{<name>}`, a field per publisher.
//! A publisher only ever replaces its own field, so there is no read-modify-write to race.

use std::sync::Mutex;

use crate::redis_streams::conn::{Client, Lazy};
use crate::{BusConfig, BusError};

/// A hash of per-publisher values on Redis. See the module docs.
pub struct FleetBlobs {
    conn: Mutex<Lazy>,
    key: String,
}

impl FleetBlobs {
    /// The hash `name` of `config`'s fleet on the Redis at `url` (`key` names the setting it
    /// came from, for errors). Connects on first use.
    pub fn open(url: &str, key: &str, config: &BusConfig, name: &str) -> Result<Self, BusError> {
        let client = Client::open_url(url, key, config)?;
        Ok(Self {
            conn: Mutex::new(Lazy::new(client, config.clone())),
            key: format!("{}:{{{name}}}", config.prefix),
        })
    }

    /// Replaces `publisher`'s value.
    pub fn put(&self, publisher: &str, value: &[u8]) -> Result<(), BusError> {
        let key = &self.key;
        self.lock().with(|c| {
            redis::cmd("HSET")
                .arg(key)
                .arg(publisher)
                .arg(value)
                .query::<i64>(c)
        })?;
        Ok(())
    }

    /// Every publisher's value.
    pub fn all(&self) -> Result<Vec<(String, Vec<u8>)>, BusError> {
        let key = &self.key;
        let pairs: Vec<(String, Vec<u8>)> = self
            .lock()
            .with(|c| redis::cmd("HGETALL").arg(key).query(c))?;
        Ok(pairs)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lazy> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}
