//! Retention: deleting versions past the newest K, never `CURRENT`, the candidate or the
//! rollback target.
//!
//! A version is first renamed to `models/.trash-<version>` (atomic: [`super::list`] skips dot
//! names, so no reader ever sees a half-deleted version), the directory is synced, and only
//! then are its files removed. A crash in between leaves a `.trash-*` directory, which the
//! next run removes. Directories without a readable manifest are left alone: retention
//! deletes only what it can identify. `models/.tmp-*` (a training still writing) is never
//! touched.

use std::path::Path;

use super::files::{Locked, err, sync_dir};
use super::list;
use crate::ModelError;

const TRASH_PREFIX: &str = ".trash-";

/// Deletes every version except the newest `keep` (by creation time) and the versions the
/// state protects; forgets deleted versions from the rollback history. `keep == 0` keeps
/// everything. Returns the deleted versions, oldest first; each deletion is logged.
pub fn gc(models_dir: &Path, keep: usize) -> Result<Vec<String>, ModelError> {
    if keep == 0 || !models_dir.is_dir() {
        return Ok(Vec::new());
    }
    let doomed = {
        // Held while choosing and renaming, so a concurrent promote or rollback cannot make a
        // version current between the choice and its removal.
        let lock = Locked::take(models_dir)?;
        let mut state = lock.read()?;
        let versions = list(models_dir)?;
        let cut = versions.len().saturating_sub(keep);
        let doomed: Vec<String> = versions[..cut]
            .iter()
            .map(|m| m.version.clone())
            .filter(|v| !state.protects(v))
            .collect();
        for version in &doomed {
            let from = models_dir.join(version);
            let to = models_dir.join(format!("{TRASH_PREFIX}{version}"));
            std::fs::rename(&from, &to).map_err(|e| err(&from, e))?;
        }
        sync_dir(models_dir)?;
        let before = state.previous.len();
        state.previous.retain(|v| !doomed.contains(v));
        if state.previous.len() != before {
            lock.write(&state)?;
        }
        doomed
    };
    for version in &doomed {
        tracing::info!(
            model_version = %version,
            keep_versions = keep,
            "deleting a model version past retention"
        );
    }
    empty_trash(models_dir)?;
    Ok(doomed)
}

/// Removes every `.trash-*` directory (this run's and any a crash left behind).
fn empty_trash(models_dir: &Path) -> Result<(), ModelError> {
    let entries = std::fs::read_dir(models_dir).map_err(|e| err(models_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| err(models_dir, e))?;
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(TRASH_PREFIX)
        {
            let path = entry.path();
            std::fs::remove_dir_all(&path).map_err(|e| err(&path, e))?;
        }
    }
    sync_dir(models_dir)
}
