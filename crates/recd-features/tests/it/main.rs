//! Integration tests of recd-features: one contract suite, run against every backend.

mod budget;
mod contract;
mod redis_outage;
