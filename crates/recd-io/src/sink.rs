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
    /// Appends events to the log.
    fn append_events(&self, batch: Vec<Event>) -> Result<(), IoError>;
    /// Creates or replaces catalog items, written at `at_ms` (a remote sink may use its own
    /// clock instead, as any client write does).
    fn upsert_items(&self, batch: Vec<Item>, at_ms: TimestampMs) -> Result<(), IoError>;
    /// Creates or replaces user profiles, written at `at_ms` (as for items).
    fn upsert_users(&self, batch: Vec<User>, at_ms: TimestampMs) -> Result<(), IoError>;
}

impl ImportSink for Store {
    fn append_events(&self, batch: Vec<Event>) -> Result<(), IoError> {
        Store::append_events(self, batch)?;
        Ok(())
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
