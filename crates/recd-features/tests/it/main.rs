//! Integration tests of recd-features: one contract suite, run against every backend.

mod budget;
mod contract;
mod partitions;
mod redis_outage;
