//! recd's embedded storage: the durable event log, the dense id maps and the catalog/user store.
//!
//! Job: keep what was acknowledged. Every write that returns `Ok` is on disk (fsync'd); a crash
//! loses at most writes that were never acknowledged, and a torn tail is detected, reported and
//! truncated on open. Non-goals: no network backends yet (Kafka and Redis Streams will implement
//! [`EventLog`] later), no feature computation (that is the speed layer's), no model files.
//!
//! Layout of a data dir:
//! - `log/` — segment files of the event log (see [`log::FileLog`]).
//! - `ids/users.ids`, `ids/items.ids` — the dense id maps (see [`IdMap`]).
//! - `catalog.redb` — current items and user profiles (see [`Catalog`]).

mod catalog;
pub mod codec;
mod error;
mod export_manifest;
mod ids;
pub mod log;
pub mod retention;
mod store;

pub use catalog::Catalog;
pub use error::StoreError;
pub use export_manifest::{EXPORT_MANIFEST, ExportManifest};
pub use ids::IdMap;
pub use log::{
    CatalogReadStats, CompactOptions, CompactReport, EventLog, FileLog, LogConfig, LogDamage,
    LogIter, LogStats, Offset, PendingAppend, ReadOnlyLog, RepairReport, SegmentSpan, VerifyReport,
    compact, repair, verify,
};
pub use store::{AppendError, AppendedOnce, Store, StoreConfig};
