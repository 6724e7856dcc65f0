//! recd's partitioned event bus: where events go when several processes share them.
//!
//! Job: durable, ordered-per-user transport of [`recd_types::Record`]s between stateless API
//! processes (which append) and updater processes (which read), on an engine users already
//! run, behind one trait ([`EventBus`], opened from a URL by [`open`]): [`RedisStreams`]
//! keeps one Redis stream per partition, [`KafkaBus`] one partition of a Kafka topic. A
//! record's partition is a hash of its user id ([`partition_of`]), the same on every engine,
//! so one user's records keep their order. Positions are per partition ([`Position`]),
//! never one global number. Each partition is also an [`recd_store::EventLog`]
//! ([`EventBus::reader`]), so the updater that applies the embedded file log applies a
//! partition unchanged. [`Leases`] say which updater applies which partition.
//!
//! Non-goals: no feature computation, no HTTP.

mod bus;
mod catalog;
mod config;
mod dedupe;
mod error;
mod fleet_blobs;
mod fleet_counters;
mod fleet_lock;
mod fleet_members;
mod kafka;
mod pending;
mod position;
mod redis_streams;
mod shared_doc;
#[cfg(feature = "testing")]
pub mod testing;

pub use bus::{BusPartition, EventBus, open};
pub use catalog::CatalogFollower;
pub use config::BusConfig;
pub use dedupe::{SharedClaim, SharedDedupe};
pub use error::BusError;
pub use fleet_blobs::FleetBlobs;
pub use fleet_counters::{CounterAdd, CounterTotals, FleetCounters};
pub use fleet_lock::FleetLock;
pub use fleet_members::FleetMembers;
pub use kafka::{KafkaBus, KafkaPartition};
pub use pending::PendingPositions;
pub use position::{Position, partition_of};
pub use redis_streams::{Leases, PartitionLog, RedisStreams};
pub use shared_doc::SharedDoc;
