//! recd's streaming updater: events → features, in log order, exactly once in effect.
//!
//! Job: the one writer of online features. [`Updater`] reads the event log from the offset
//! the feature store says it applied, hands batches to [`recd_features::FeatureStore::apply`]
//! and lets the store record the new offset; after a restart or a backend outage it resumes
//! exactly there (and from the start of the log when the store lost its data, skipping events
//! older than the TTL), so nothing acknowledged is lost. Alongside, [`AlsFoldIn`] computes a
//! vector for users without a current trained one from their recent interactions against the
//! current item factors (supplied through [`FactorSource`]), the nearline half of seed 002.
//!
//! Non-goals: no HTTP (the server only notifies the updater of appends through a
//! `tokio::sync::watch` channel), no training, no feature storage of its own.

mod categories;
mod config;
mod error;
mod foldin;
mod partitions;
mod telemetry;
mod updater;

pub use categories::{CatalogCategories, CategoryLookup};
pub use config::{FoldInConfig, StreamConfig};
pub use error::StreamError;
pub use foldin::{AlsFoldIn, FactorSource, ItemFactors, SharedFactors};
pub use partitions::PartitionedUpdater;
pub use telemetry::describe_metrics;
pub use updater::Updater;
