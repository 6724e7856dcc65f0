//! recd-stats' one integration binary: every test goes through the public API.
//!
//! `reference` pins the tests to scipy's numbers, `edge` to their refusals, `calibration` and
//! `power` to simulated experiments (`sim`) where the truth is known.

mod calibration;
mod edge;
mod power;
mod reference;
mod sim;
