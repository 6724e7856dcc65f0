//! recd's batch training: interactions in, factor models out.
//!
//! Job: build the sparse user × item matrix ([`Csr`], via [`CsrBuilder`]) and fit implicit
//! ALS on it ([`als::fit`]), multi-threaded on the caller's rayon pool. The per-row solve is
//! not here: it lives in `recd-model` ([`recd_model::als::RowSolver`]) so the server can fold
//! in new users with the very same code without linking this crate.
//!
//! Non-goals (for now): reading the event store, writing model artifacts, evaluation. The
//! `recd` binary composes those around this crate.

pub mod als;
mod build;
pub mod config;
mod csr;
pub mod dataset;
mod error;
pub mod evaluate;
mod knn;
mod mlp;
pub mod ranker;
mod report;
pub mod train;

pub use build::build_model;
pub use csr::{Csr, CsrBuilder};
pub use error::TrainError;
pub use report::table as report_table;
