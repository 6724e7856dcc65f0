//! recd's model library: what a trained model is and how it turns interactions into vectors.
//!
//! Job: the pieces the serving side needs without linking training code. For now that is the
//! ALS linear algebra in [`als`]: the [`als::Factors`] matrix, the Gram matrix YᵀY + λI
//! ([`als::Gram`]) and the per-row conjugate-gradient least-squares solve
//! ([`als::RowSolver`]), which the batch trainer (`recd-train`) calls for every row of an ALS
//! iteration and the server calls as [`als::fold_in`] for a user it has not trained on. One
//! implementation for both, so a folded-in user is exactly what training would have computed.
//!
//! Non-goals: no training loop, no thread pool (callers parallelise over rows), no IO yet (the
//! versioned artifact format comes later), and never a panic on bad input from a caller:
//! public entry points that take outside data validate it and return [`ModelError`].

pub mod als;
pub mod ann;
pub mod artifact;
pub mod content;
pub mod csr;
mod error;
pub mod ids;
mod model;
pub mod pipeline;
pub mod ranker;

pub use error::ModelError;
pub use model::{ItemMeta, Model, NO_CATEGORY, ScoringParams, UNKNOWN_TIME};
