//! Integration tests of recd-train: ALS behaviour on data with a known answer.

mod als;
mod fixtures;
mod planted;
