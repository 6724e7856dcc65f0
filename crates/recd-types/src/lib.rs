//! recd's domain model: external ids, events, items, users, and the log record that carries them.
//!
//! Job: define what the engine talks about and the rules a value must satisfy to enter it
//! (`validate`). Non-goals: no IO, no async, no HTTP wire shapes (those live in `recd-api`), and
//! never a panic on bad input: every check returns a [`ValidationError`] naming the field.

mod error;
mod event;
mod hash;
mod ids;
mod impression;
mod item;
mod record;
mod session;
mod user;
mod weights;

pub use error::ValidationError;
pub use event::{Context, Event, EventFlag, EventKind, RATING_MAX, RATING_MIN};
pub use hash::fnv1a;
pub use ids::{ItemId, MAX_ID_BYTES, UserId};
pub use impression::{Impression, MAX_SHOWN, Shown, Surface};
pub use item::Item;
pub use record::Record;
pub use session::continues_session;
pub use user::{Gender, Segment, User};
pub use weights::{EventWeights, Signal, counts_as_engagement};

/// Milliseconds since the Unix epoch, UTC. Signed so that arithmetic on differences is plain.
pub type TimestampMs = i64;

/// Dense index of a user or item inside the engine (position in the persisted id map).
pub type Idx = u32;
