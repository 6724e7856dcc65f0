//! recd-stats' one integration binary: every test goes through the public API.
//!
//! `reference` pins the tests to scipy's numbers, `edge` to their refusals.

mod edge;
mod reference;
