//! A small document that a fleet shares and changes by compare-and-set, such as the
//! experiments that every API process runs (DECISIONS §3: experiments live in Redis).
//!
//! Where: one hash on the feature store's Redis, `<prefix>:{<name>}` (the document is read
//! and written whole, so one key, one slot), with the fields `v` (a version that every
//! change increments) and `doc` (the bytes). Readers poll the version; a writer reads the
//! document and its version, changes it, and replaces it only if the version is still the
//! one it read, so two processes changing it at once never lose one of the changes: the
//! second is told to read again.

use std::sync::Mutex;

use crate::redis_streams::conn::{Client, Lazy};
use crate::{BusConfig, BusError};

const REPLACE: &str = r#"
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'v', v + 1, 'doc', ARGV[2])
return v + 1
"#;

/// A versioned document on Redis. See the module docs.
pub struct SharedDoc {
    conn: Mutex<Lazy>,
    key: String,
}

impl SharedDoc {
    /// The document `name` of `config`'s bus, kept on the Redis at `url` (`key` names the
    /// setting it came from, for errors). Connects on first use.
    pub fn open(url: &str, key: &str, config: &BusConfig, name: &str) -> Result<Self, BusError> {
        let client = Client::open_url(url, key, config)?;
        Ok(Self {
            conn: Mutex::new(Lazy::new(client, config.clone())),
            key: format!("{}:{{{name}}}", config.prefix),
        })
    }

    /// The document's version (0: never written) and bytes.
    pub fn load(&self) -> Result<(u64, Option<Vec<u8>>), BusError> {
        let key = &self.key;
        let (v, doc): (Option<u64>, Option<Vec<u8>>) = self
            .lock()
            .with(|c| redis::cmd("HMGET").arg(key).arg("v").arg("doc").query(c))?;
        Ok((v.unwrap_or(0), doc))
    }

    /// Only the version, for a cheap poll.
    pub fn version(&self) -> Result<u64, BusError> {
        let key = &self.key;
        let v: Option<u64> = self
            .lock()
            .with(|c| redis::cmd("HGET").arg(key).arg("v").query(c))?;
        Ok(v.unwrap_or(0))
    }

    /// Replaces the document with `doc` if its version is still `expected`: the new version,
    /// or `None` when another writer changed it first (read it again and redo the change).
    pub fn replace(&self, expected: u64, doc: &[u8]) -> Result<Option<u64>, BusError> {
        let key = &self.key;
        let v: i64 = self.lock().with(|c| {
            redis::cmd("EVAL")
                .arg(REPLACE)
                .arg(1)
                .arg(key)
                .arg(expected)
                .arg(doc)
                .query(c)
        })?;
        Ok(u64::try_from(v).ok())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lazy> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}
