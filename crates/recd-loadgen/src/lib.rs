//! HTTP clients that drive a running `recd serve` and report what they saw.
//!
//! Job: the user simulator ([`simulate`], behind `recd simulate`): users of a generated world
//! ask for recommendations and act on them by their hidden taste, and the run reports
//! engagement per experiment variant. The load generator (`recd-loadgen`, this crate's
//! binary) measures ingest throughput, latency and feature freshness for `bench/`.
//! Non-goals: no server code (only HTTP, through `recd-api`'s wire shapes), and no retries:
//! both tools measure the server, so a failed request is reported, not hidden by a second try.
//!
//! Layout: `simulate/mod.rs` the run and its settings; `simulate/visit.rs` one user's step;
//! `simulate/summary.rs` the counts and the report; `simulate/client.rs` the HTTP client;
//! `error.rs` what can stop a run.

mod error;
pub mod simulate;

pub use error::SimError;
