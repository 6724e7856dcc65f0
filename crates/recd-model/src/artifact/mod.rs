//! The versioned on-disk format of a trained model, and the registry of versions.
//!
//! A model is a directory `models/<version>/` holding:
//! - `manifest.json` ([`Manifest`]): format version, model version, creation time, data window,
//!   parameters, metrics, and a SHA-256 checksum of every other file;
//! - `*.arr` array files ([`arrays`]): a fixed little-endian header and raw data, so a loader
//!   needs no training code and no schema library;
//! - `gate.json` ([`GateRecord`]): the publish gate's decision on it;
//! - small JSON files (ranker weights, category names) and `*.ids` text files (one external id
//!   per line; the line number is the row of every per-user or per-item array).
//!
//! The trainer writes into `models/.tmp-<version>/` and renames it into place, so a reader
//! never sees half a model. `models/STATE.json` names the current version, the candidate
//! waiting for rollout and the rollback history (`models/CURRENT` mirrors the current one);
//! it is replaced by an atomic rename (see [`registry`]).

pub mod arrays;
mod gate;
mod manifest;
pub mod registry;

pub use gate::{GATE_FILE, GateRecord};
pub use manifest::{FORMAT_VERSION, FileEntry, Manifest};
