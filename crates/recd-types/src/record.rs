//! What the event log carries: interactions, and catalog and profile changes.
//!
//! Catalog and profile changes go through the log too, so the batch layer can see catalog
//! history (when an item appeared, when it went out of stock) from one ordered source.
//!
//! Changing this type (or `Event`) changes the log's wire format: bump the record schema in
//! `recd-store` and freeze the old shape there, so older segments still decode.

use serde::{Deserialize, Serialize};

use crate::{Event, Impression, Item, TimestampMs, User, UserId, ValidationError};

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// A user interaction.
    Event(Event),
    /// An item was created or replaced at `at_ms`.
    Item {
        /// When the change was made.
        at_ms: TimestampMs,
        /// The item as it is from then on.
        item: Item,
    },
    /// A user profile was created or replaced at `at_ms`.
    User {
        /// When the change was made.
        at_ms: TimestampMs,
        /// The profile as it is from then on.
        user: User,
    },
    /// A user's data was deleted at `at_ms` (a tombstone, record schema 2): their profile and
    /// online features are gone, and training and exports leave out their events before this
    /// record. Events of the same id after it are a new user.
    UserDeleted {
        /// When the deletion was made.
        at_ms: TimestampMs,
        /// Whose data.
        user: UserId,
    },
    /// What one answer showed (record schema 3). Written to the impressions log, never to the
    /// event log: readers of the event log do not meet it.
    Impression(Impression),
}

impl Record {
    /// The time the record speaks of: the event's timestamp or the change time.
    pub fn timestamp_ms(&self) -> TimestampMs {
        match self {
            Record::Event(e) => e.timestamp_ms,
            Record::Item { at_ms, .. }
            | Record::User { at_ms, .. }
            | Record::UserDeleted { at_ms, .. } => *at_ms,
            Record::Impression(i) => i.at_ms,
        }
    }

    /// A catalog or profile change (item, user, tombstone): what catalog readers keep.
    pub fn is_catalog(&self) -> bool {
        matches!(
            self,
            Record::Item { .. } | Record::User { .. } | Record::UserDeleted { .. }
        )
    }

    /// Validates the payload.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Record::Event(e) => e.validate(),
            Record::Item { item, .. } => item.validate(),
            Record::User { user, .. } => user.validate(),
            Record::UserDeleted { user, .. } => user.validate(),
            Record::Impression(i) => i.validate(),
        }
    }
}
