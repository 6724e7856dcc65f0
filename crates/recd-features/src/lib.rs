//! recd's real-time feature store: what the speed layer knows about users and items right now.
//!
//! Job: hold features that are a projection of the event log — per user the last viewed items,
//! last queries, session context, negative items, counts per event type and the nearline
//! folded-in vector; per item and per category sliding-window engagement counters (1 h, 24 h)
//! for trending — behind one trait, [`FeatureStore`], with two backends:
//! - [`EmbeddedStore`]: in memory, sharded, within a memory budget (least recently active
//!   users dropped first); rebuilt at start by replaying the log.
//! - [`RedisStore`]: `user:{id}:features` keys with TTLs, pipelined writes, a small local
//!   cache in front for hot users and for reads while Redis is unreachable.
//!
//! How features change is defined once, in [`UserFeatures::apply`] and [`WindowCounters::add`];
//! backends only decide where the state lives. Every state carries the log offset of the newest
//! event it took in, and applying skips events at or below it, so replaying a stretch of the
//! log twice (after a crash, or a Redis outage) changes nothing.
//!
//! Non-goals: reading the log (that is `recd-stream`'s updater, the only writer), computing
//! vectors (the updater hands in a [`FoldIn`]), and HTTP.

mod apply;
mod config;
mod embedded;
mod error;
pub mod heap;
mod memory;
mod redis_backend;
mod store;
mod telemetry;
mod user;
mod window;

#[cfg(feature = "testing")]
pub mod testing;

pub use config::{FeatureConfig, RedisConfig};
pub use embedded::EmbeddedStore;
pub use error::FeatureError;

pub use memory::{available_memory_bytes, budget_bytes};
pub use redis_backend::RedisStore;
pub use telemetry::describe_metrics;

pub use store::{
    Batch, CategoryCount, FeatureStore, FoldIn, ItemStats, LoggedEvent, TrendingItem, TrendingQuery,
};
pub use user::{Interaction, NegativeItem, Session, Stamped, UserFeatures, UserVector};
pub use window::{Window, WindowCounters};

/// Log position, as in `recd-store` (kept as a plain `u64` so this crate needs no storage dep).
pub type Offset = u64;
