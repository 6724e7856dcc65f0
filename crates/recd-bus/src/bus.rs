//! What every bus offers the roles: appends resolved once durable, a read view per partition,
//! and a readiness check. The engine behind it is the URL's business (`redis://`,
//! `redis+cluster://`, `kafka://`); the roles hold an `Arc<dyn EventBus>`.

use std::sync::Arc;
use std::time::Duration;

use recd_store::{EventLog, Offset, StoreError};
use recd_types::Record;

use crate::position::{partition_of, record_key};
use crate::{BusConfig, BusError, KafkaBus, PendingPositions, RedisStreams};

/// A partitioned, durable event bus. See the module docs.
pub trait EventBus: Send + Sync {
    /// The settings it was opened with.
    fn config(&self) -> &BusConfig;

    /// Appends `records`; the answer resolves once all are durable, to their positions in
    /// the order given. Records of one user keep their order. On failure nothing is
    /// acknowledged, but records of other partitions of the same call may have been written:
    /// a client retries with `event_id`s to make the retry harmless.
    fn append(&self, records: &[Record]) -> PendingPositions;

    /// A read view of partition `p`, with a connection of its own.
    fn reader(&self, p: u32) -> Result<Box<dyn BusPartition>, BusError>;

    /// Appends catalog records (items, profiles, user deletions) to the catalog channel: one
    /// ordered channel that every process reads whole, to keep its own copy of the catalog
    /// (DECISIONS §3: rebuilt by every process from the bus). Never trimmed by the bus's
    /// retention. Positions are reported in partition [`BusConfig::catalog_partition`].
    fn append_catalog(&self, records: &[Record]) -> PendingPositions;

    /// A read view of the catalog channel.
    fn catalog_reader(&self) -> Result<Box<dyn BusPartition>, BusError>;

    /// Whether the bus answers and makes appends durable (for readiness; blocks for up to
    /// the connect and response timeouts).
    fn check(&self) -> Result<(), BusError>;

    /// The longest a caller should wait for an append's answer: past it, treat the append as
    /// failed (it may still land; a retry with event ids makes that harmless). The engines'
    /// own timeouts fire about then, but not exactly (librdkafka scans for timed-out records
    /// once a second, and a connection to a dead broker can take longer to give up).
    fn append_deadline(&self) -> Duration {
        let c = self.config();
        Duration::from_millis(c.connect_timeout_ms + c.response_timeout_ms + c.wait_timeout_ms)
    }

    /// Number of partitions.
    fn partitions(&self) -> u32 {
        self.config().partitions
    }

    /// The partition of a record: a hash of its user (of its item for an item record).
    fn partition_of(&self, record: &Record) -> u32 {
        partition_of(record_key(record), self.partitions())
    }
}

/// One partition read as an [`EventLog`] (appends go through the bus), plus what an
/// updater on a bus needs beyond it.
pub trait BusPartition: EventLog {
    /// The partition's number.
    fn partition(&self) -> u32;

    /// Blocks until the partition holds a record at or after `from`, or `block` passes; true
    /// when there is one. What lets an updater apply an event within milliseconds of its
    /// append without polling in a loop.
    fn wait_for(&self, from: Offset, block: Duration) -> Result<bool, StoreError>;

    /// Records that everything before `next` is applied, where the engine keeps consumer
    /// progress for its own tools (a Kafka consumer group's committed offset). The feature
    /// store's applied offset stays the one the updater resumes from.
    fn commit(&self, next: Offset) {
        let _ = next;
    }
}

/// The bus `config.events` names. Connects lazily where the engine allows, so a server can
/// start and answer from caches while the bus is down.
pub fn open(config: BusConfig) -> Result<Arc<dyn EventBus>, BusError> {
    config.validate().map_err(BusError::Config)?;
    if config.events.starts_with("kafka://") {
        Ok(Arc::new(KafkaBus::open(config)?))
    } else {
        Ok(Arc::new(RedisStreams::open(config)?))
    }
}
