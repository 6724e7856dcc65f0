//! recd's partitioned event bus: where events go when several processes share them.
//!
//! Job: durable, ordered-per-user transport of [`recd_types::Record`]s between stateless API
//! processes (which append) and updater processes (which read), on an engine users already
//! run. [`RedisStreams`] keeps one Redis stream per partition; a record's partition is a hash
//! of its user id ([`partition_of`]), so one user's records keep their order. Positions are
//! per partition ([`Position`]), never one global number. Each partition is also an
//! [`recd_store::EventLog`] ([`RedisStreams::partition`]), so the updater that applies the
//! embedded file log applies a partition unchanged.
//!
//! Non-goals: no feature computation, no HTTP, no ownership of partitions (who reads which
//! partition is the updater role's business).

mod config;
mod error;
mod position;
mod redis_streams;

pub use config::BusConfig;
pub use error::BusError;
pub use position::{Position, partition_of};
pub use redis_streams::{Leases, PartitionLog, PendingPositions, RedisStreams};
