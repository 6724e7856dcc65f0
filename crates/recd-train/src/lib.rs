//! recd's batch training: the event log in, a published, evaluated model version out.
//!
//! Job: the whole `recd train` job ([`train::run`]): read the window of the event log and the
//! catalog from the store ([`dataset::Dataset`]), build every generator's data (implicit ALS on
//! the sparse user × item matrix [`Csr`] via [`als::fit`], item-kNN, popularity, trending,
//! content vectors: [`build_model`]), train the ranker (logistic regression and an MLP, with
//! the logistic one kept beside an MLP as its light ranker: [`ranker`]), evaluate each
//! generator and the pipeline on a hold-out ([`evaluate`], reported by [`report_table`] and as
//! JSON and HTML), then write the version's artifacts and manifest, publish it and gate
//! `CURRENT`. Multi-threaded on the caller's rayon pool.
//!
//! Non-goals: opening the data dir, reading config files, the thread pool and progress display
//! (the `recd` binary does those and calls [`train::run`]); reading ALS factors fitted
//! elsewhere (the binary parses them; [`external_als`] places them on the model's rows); the model's file format and
//! loading, and the per-row ALS solve, which live in `recd-model`
//! ([`recd_model::als::RowSolver`]) so the server can fold in new users with the very same
//! code without linking this crate.

pub mod als;
mod build;
pub mod config;
mod csr;
pub mod dataset;
mod error;
pub mod evaluate;
pub mod external_als;
pub mod gate;
mod knn;
mod mlp;
pub mod moment;
mod progress;
pub mod ranker;
mod report;
pub mod schedule;
mod shown;
pub mod train;

pub use build::{build_model, build_model_with};
pub use csr::{Csr, CsrBuilder};
pub use error::TrainError;
pub use report::table as report_table;
