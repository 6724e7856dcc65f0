//! `[bus]` section of the config file: where events go when processes share them.

use serde::{Deserialize, Serialize};

/// The event bus. With `events = "embedded"` (the default) the data dir's file log is the
/// log and nothing here applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// `embedded` (the data dir's log), `redis://host:port` (Redis Streams on one server),
    /// `redis+cluster://host1:port1,host2:port2` (on a Redis Cluster) or
    /// `kafka://host1:port1,host2:port2/topic` (a Kafka topic). The flag `--events` overrides
    /// it.
    pub events: String,
    /// Key prefix of the streams: partition `p` is the stream `<prefix>:{p<p>}` (the braces
    /// are a cluster hash tag: each partition has a slot of its own, so partitions spread
    /// over the cluster's masters). Partition leases use it on every bus, and it names the
    /// Kafka consumer group (`:` becomes `-`).
    pub prefix: String,
    /// Number of partitions. Every process of a deployment must agree on it: a user's
    /// partition is a hash of their id modulo this number. A Kafka topic must have exactly
    /// this many (one is created with them when missing).
    pub partitions: u32,
    /// Keep about this many entries per partition (`XADD MAXLEN ~`); 0 keeps them all.
    pub max_len: u64,
    /// Keep about this many hours of entries per partition (`XADD MINID ~`, by append
    /// time); 0 keeps them all. Entries must be exported to the lake within this time.
    pub retention_hours: u64,
    /// Acknowledge an append only once this many replicas have it (`WAIT`, on a cluster on
    /// the master of each partition written); 0 relies on the server's own durability
    /// (`appendonly yes`, `appendfsync always`), which a cluster failover to a replica that
    /// had not received a write does not keep.
    pub wait_replicas: u32,
    /// How long `WAIT` waits for the replicas before the append fails (503).
    pub wait_timeout_ms: u64,
    /// Most records sent to Redis in one group (appends queued while one group is in
    /// flight share the next one's round trip).
    pub group_max_records: usize,
    /// Give up connecting after this long.
    pub connect_timeout_ms: u64,
    /// Give up waiting for a reply after this long.
    pub response_timeout_ms: u64,
    /// Replication factor of a Kafka topic that recd creates (3 on a production cluster,
    /// with the topic's `min.insync.replicas` at 2, so that an acknowledged append survives
    /// a broker's loss).
    pub kafka_replication: u16,
    /// How long an append to Kafka waits for the brokers' acknowledgement, librdkafka's own
    /// retries included (`message.timeout.ms`), before it fails (503). A new producer
    /// spends about half a second getting its idempotent producer id before the first.
    pub kafka_delivery_timeout_ms: u64,
    /// Longest time a Kafka fetch waits on the broker for new records (`fetch.wait.max.ms`).
    /// Kafka answers a waiting fetch as soon as a record arrives, so this only bounds how
    /// often an idle consumer asks again; a broker that holds the fetch for its whole wait
    /// (Tansu does) needs a few ms here for the updater to see events that soon.
    pub kafka_fetch_wait_ms: u64,
    /// Refuse to start unless the server's settings make an acknowledged append durable
    /// (`appendonly yes` with `appendfsync always`, or `wait_replicas` > 0). Turn off only
    /// for throwaway setups: with it off, a Redis crash can lose acknowledged events.
    pub require_durable: bool,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            events: "embedded".into(),
            prefix: "recd:events".into(),
            partitions: 16,
            max_len: 0,
            retention_hours: 0,
            wait_replicas: 0,
            wait_timeout_ms: 1_000,
            group_max_records: 4_096,
            connect_timeout_ms: 1_000,
            response_timeout_ms: 2_000,
            kafka_replication: 1,
            kafka_delivery_timeout_ms: 10_000,
            kafka_fetch_wait_ms: 100,
            require_durable: true,
        }
    }
}

impl BusConfig {
    /// Whether events go to a bus rather than the data dir's file log.
    pub fn is_bus(&self) -> bool {
        self.events != "embedded"
    }

    /// Checks the values; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.partitions == 0 || self.partitions > 4_096 {
            return Err(format!(
                "bus.partitions = {}: must be between 1 and 4096",
                self.partitions
            ));
        }
        if self.prefix.is_empty() || self.prefix.contains(['{', '}']) {
            return Err(format!(
                "bus.prefix = {:?}: must be non-empty and without braces",
                self.prefix
            ));
        }
        if self.group_max_records == 0 {
            return Err("bus.group_max_records must be at least 1".into());
        }
        if self.is_bus()
            && !["redis://", "redis+cluster://", "kafka://"]
                .iter()
                .any(|p| self.events.starts_with(p))
        {
            return Err(format!(
                "bus.events = {:?}: expected \"embedded\", redis://host:port, \
                 redis+cluster://host:port,... or kafka://host:port,.../topic",
                self.events
            ));
        }
        if self.kafka_replication == 0 {
            return Err("bus.kafka_replication must be at least 1".into());
        }
        Ok(())
    }

    /// The Kafka consumer group of the updater role.
    pub fn consumer_group(&self) -> String {
        self.prefix.replace(':', "-")
    }

    /// The catalog channel's number: it travels as one more partition, numbered
    /// `partitions`, that no user hashes to.
    pub fn catalog_partition(&self) -> u32 {
        self.partitions
    }

    /// The stream of partition `p` (`<prefix>:{catalog}` for the catalog channel).
    pub fn stream_key(&self, p: u32) -> String {
        if p == self.catalog_partition() {
            format!("{}:{{catalog}}", self.prefix)
        } else {
            format!("{}:{{p{p}}}", self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_their_key() {
        let ok = BusConfig::default();
        assert!(ok.validate().is_ok());
        assert!(!ok.is_bus());
        let bad = |f: fn(&mut BusConfig)| {
            let mut c = BusConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(|c| c.partitions = 0).contains("bus.partitions"));
        assert!(bad(|c| c.prefix = "a{b}".into()).contains("bus.prefix"));
        assert!(bad(|c| c.events = "nats://x:4222".into()).contains("bus.events"));
        assert!(bad(|c| c.kafka_replication = 0).contains("bus.kafka_replication"));
        assert_eq!(ok.stream_key(3), "recd:events:{p3}");
        assert_eq!(
            ok.stream_key(ok.catalog_partition()),
            "recd:events:{catalog}"
        );
    }
}
