//! recd's synthetic data generator: a catalog, users and interaction events with a known
//! latent structure, the same bytes for the same settings.
//!
//! Job: make realistic, learnable data at any size for tests, benchmarks and demos, without
//! files: categories with prices and house brands; items with titles, tags, creation times
//! (some in the last week) and a power-law popularity; users with a heavy-tailed activity,
//! demographics and declared interests that agree with a hidden taste; sessions of events whose
//! items follow taste, popularity and the session's device (each device class favours some
//! categories, by `GenConfig::device_effect`) and whose kinds (view … purchase, rating, like,
//! dislike, skip, search) follow affinity; and the same users as shoppers in front of a ranked
//! list, on a session's device ([`Shopper`], for simulations against a server). The hidden
//! parts are exposed as ground truth ([`Generator::item_truth`], [`Generator::user_truth`],
//! [`Generator::device_favoured_categories`]) so a test can check that a model learns them.
//! Non-goals: no IO (the CLI writes files or a store), no global time order.
//!
//! Determinism: every random draw comes from a stream keyed on (seed, purpose, user or item
//! index) (see `rng.rs`), so a user's events do not depend on which thread made them or when.
//! Events are emitted block by block in user order, each user's events in time order.
//!
//! Layout: `config.rs` settings; `world.rs` categories, items, activity; `users.rs` taste and
//! profiles; `events.rs` sessions and item choice; `devices.rs` session devices and the
//! categories they favour; `kinds.rs` the calibrated kind model; `items.rs` catalog records;
//! `shopper.rs` reactions to shown lists; `generator.rs` the public API; `rng.rs`, `alias.rs`
//! sampling.

mod alias;
mod config;
mod devices;
mod error;
mod events;
mod generator;
mod items;
mod kinds;
mod rng;
mod shopper;
mod users;
mod words;
mod world;

#[cfg(test)]
mod tests;

pub use config::{
    DAY_MS, DEFAULT_DEVICE_EFFECT, DEFAULT_END_MS, DEFAULT_SEARCH_INTENT, GenConfig, parse_date,
};
pub use error::GenError;
pub use generator::{BLOCK_USERS, EventBlock, GenStats, Generator, ItemTruth, UserTruth};
pub use shopper::{Reaction, Shopper};
