//! `_recd_export.json`: what an export covers, so that `recd log compact` can tell whether
//! the segments it would delete are in the lake.
//!
//! Written last, after every part file is renamed into place: a lake without it is an export
//! that did not finish (or one made by an older build), and covers nothing as far as
//! compaction is concerned.

use std::path::{Path, PathBuf};

use recd_types::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// The file name in the export's directory.
pub const EXPORT_MANIFEST: &str = "_recd_export.json";

/// What an export holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportManifest {
    /// The log it was read from (the data dir's log directory, canonical path), if known.
    pub source: Option<String>,
    /// Every event of the log below this offset is in the export, unless its time is
    /// outside `since_ms..until_ms` or its user was deleted.
    pub end_offset: u64,
    /// The export kept events at or after this time only.
    pub since_ms: Option<TimestampMs>,
    /// The export kept events before this time only.
    pub until_ms: Option<TimestampMs>,
    /// Events written.
    pub n_events: u64,
}

impl ExportManifest {
    /// Writes the manifest into the export directory `out`.
    pub fn write(&self, out: &Path) -> Result<(), StoreError> {
        let path = out.join(EXPORT_MANIFEST);
        let text = serde_json::to_string_pretty(self).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let tmp = out.join(format!("{EXPORT_MANIFEST}.tmp"));
        std::fs::write(&tmp, text).map_err(|e| StoreError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| StoreError::io(&path, e))
    }

    /// Reads the manifest of the export in `lake`.
    pub fn read(lake: &Path) -> Result<Self, StoreError> {
        let path: PathBuf = lake.join(EXPORT_MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| StoreError::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            path,
            reason: e.to_string(),
        })
    }

    /// Whether the records `base..end` with times `min_ms..=max_ms` of the log `source` are
    /// all in this export; `Err` says why not.
    pub fn covers(
        &self,
        source: Option<&str>,
        (base, end): (u64, u64),
        (min_ms, max_ms): (TimestampMs, TimestampMs),
    ) -> Result<(), String> {
        if let (Some(mine), Some(theirs)) = (&self.source, source)
            && mine != theirs
        {
            return Err(format!(
                "the export was read from {mine}, not from {theirs}"
            ));
        }
        if end > self.end_offset {
            return Err(format!(
                "offsets {base}..{end} are not all exported: the export covers the log up to offset {} (export again)",
                self.end_offset
            ));
        }
        if self.since_ms.is_some_and(|s| min_ms < s) {
            return Err(format!(
                "offsets {base}..{end} hold records from {min_ms} ms, before the export's --since"
            ));
        }
        if self.until_ms.is_some_and(|u| max_ms >= u) {
            return Err(format!(
                "offsets {base}..{end} hold records up to {max_ms} ms, past the export's --until"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_needs_the_offsets_the_times_and_the_same_log() {
        let m = ExportManifest {
            source: Some("/d/log".into()),
            end_offset: 100,
            since_ms: Some(10),
            until_ms: None,
            n_events: 5,
        };
        assert!(m.covers(Some("/d/log"), (0, 100), (10, 20)).is_ok());
        assert!(m.covers(None, (0, 100), (10, 20)).is_ok());
        assert!(
            m.covers(Some("/e/log"), (0, 50), (10, 20))
                .unwrap_err()
                .contains("/e/log")
        );
        assert!(
            m.covers(Some("/d/log"), (50, 101), (10, 20))
                .unwrap_err()
                .contains("up to offset 100")
        );
        assert!(
            m.covers(Some("/d/log"), (0, 50), (9, 20))
                .unwrap_err()
                .contains("--since")
        );
        let dir = tempfile::tempdir().unwrap();
        m.write(dir.path()).unwrap();
        assert_eq!(ExportManifest::read(dir.path()).unwrap(), m);
    }
}
