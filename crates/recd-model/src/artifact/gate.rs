//! `gate.json`: the publish gate's decision on a version, kept in the version's directory so
//! that every reader of the registry (the admin route, the dashboard, the next report) can
//! say why a version was or was not placed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// The file name inside a version directory.
pub const GATE_FILE: &str = "gate.json";

/// What the gate decided on one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateRecord {
    /// Whether the version was allowed to be placed (as CURRENT or CANDIDATE).
    pub passed: bool,
    /// How the numbers were obtained (`rescored`, `stored`, `no_current`).
    pub method: String,
    /// The decision in words, naming both numbers.
    pub decision: String,
}

impl GateRecord {
    /// Writes it into a version directory (before its manifest, which then lists it).
    pub fn write(&self, dir: &Path) -> Result<(), ModelError> {
        let path = dir.join(GATE_FILE);
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&path, text)
            .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))
    }

    /// The record of a version directory; `None` for versions published before the gate was
    /// recorded, or an unreadable file (a display concern: the model itself is unaffected).
    pub fn read(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(GATE_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(GateRecord::read(dir.path()), None);
        let record = GateRecord {
            passed: false,
            method: "rescored".into(),
            decision: "NDCG@10 0.10 < 0.12".into(),
        };
        record.write(dir.path()).unwrap();
        assert_eq!(GateRecord::read(dir.path()), Some(record));
    }
}
