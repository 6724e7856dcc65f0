//! recd's model library: what a trained model is and how it turns interactions into vectors.
//!
//! Job: everything the serving side needs without linking training code:
//! - [`Model`]: a trained model in memory, loaded from a versioned artifact ([`artifact`]:
//!   manifest, checksums, the registry: `CURRENT`, `CANDIDATE` and rollback history, changed atomically);
//! - [`pipeline`]: the two-stage recommendation (signals, candidate generators, features,
//!   ranker) used alike by the server, `recd recommend` and the trainer's evaluation, so the
//!   ranker learns on exactly the features it is served with;
//! - [`als`]: the ALS row solve shared by training and the nearline fold-in (one
//!   implementation, so a folded-in user is what training would have computed);
//! - [`ann`]: the nearest-neighbour index over item vectors; [`content`]: item content vectors;
//!   [`ranker`]: ranker inference; [`derived`]: sorted lists and indexes computed once per model.
//!
//! Non-goals: no training loop and no thread pool (callers parallelise over rows), and never a
//! panic on bad input from a caller: public entry points that take outside data validate it
//! and return [`ModelError`].

pub mod als;
pub mod ann;
pub mod artifact;
pub mod content;
pub mod context;
pub mod csr;
pub mod derived;
mod error;
mod hugepages;
pub mod ids;
mod model;
pub mod pipeline;
pub mod ranker;
pub mod search;
mod sparse;

pub use error::ModelError;
pub use model::{ItemMeta, Model, NO_CATEGORY, ScoringParams, UNKNOWN_TIME};
