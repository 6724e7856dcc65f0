//! Where an import writes: [`ImportSink`], implemented here for the local [`Store`].
//!
//! The importers read, validate and batch; a sink only takes batches. That split lets one
//! import path serve both a data dir this process owns and a running server that owns it
//! (the `recd` binary's HTTP sink), so the two cannot drift apart in order or batching.

use recd_store::Store;
use recd_types::{Event, Item, TimestampMs, User};

use crate::IoError;

/// A destination for imported records, one batch at a time. Each call is all or nothing for
/// its batch and returns once the batch is durable; the importer calls them in file order.
pub trait ImportSink {
    /// Appends events to the log, except those whose `event_id` the destination already has
    /// (a file imported again); returns how many it left out for that reason.
    fn append_events(&self, batch: Vec<Event>) -> Result<u64, IoError>;
    /// Creates or replaces catalog items, written at `at_ms` (a remote sink may use its own
    /// clock instead, as any client write does).
    fn upsert_items(&self, batch: Vec<Item>, at_ms: TimestampMs) -> Result<(), IoError>;
    /// Creates or replaces user profiles, written at `at_ms` (as for items).
    fn upsert_users(&self, batch: Vec<User>, at_ms: TimestampMs) -> Result<(), IoError>;
}

impl ImportSink for Store {
    /// Events with ids are checked against every event id in the log
    /// ([`Store::append_events_once`]); a batch without ids skips that.
    fn append_events(&self, batch: Vec<Event>) -> Result<u64, IoError> {
        if batch.iter().all(|e| e.event_id.is_none()) {
            Store::append_events(self, batch)?;
            return Ok(0);
        }
        Ok(Store::append_events_once(self, batch)?.n_duplicates as u64)
    }

    fn upsert_items(&self, batch: Vec<Item>, at_ms: TimestampMs) -> Result<(), IoError> {
        Store::upsert_items(self, batch, at_ms)?;
        Ok(())
    }

    fn upsert_users(&self, batch: Vec<User>, at_ms: TimestampMs) -> Result<(), IoError> {
        Store::upsert_users(self, batch, at_ms)?;
        Ok(())
    }
}
