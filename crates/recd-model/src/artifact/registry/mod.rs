//! The registry of model versions under a models directory: which version is `CURRENT` (what
//! servers answer with), which is the `CANDIDATE` (published and gated, waiting for a gradual
//! rollout), and which earlier `CURRENT`s a rollback returns to.
//!
//! The one source of truth is `models/STATE.json` ([`RegistryState`]): every change (activate,
//! stage a candidate, promote, roll back, retention pruning the history) writes a whole new
//! state to a temporary file, syncs it, renames it over the old one and syncs the directory,
//! so a reader sees the old state or the new one, never a mix, and a crash at any point leaves
//! one of the two. One file rather than a pointer file per role (`CURRENT`, `CANDIDATE`,
//! `PREVIOUS`): a promotion changes three pointers at once, and only a single rename makes
//! that atomic.
//!
//! `models/CURRENT` (one line: the current version) is still written, after the state, as a
//! mirror for scripts and older tools that `cat` it. recd itself reads the state; a data dir
//! from before the state file (only `CURRENT`) is read as `current` with no candidate and no
//! history, and its first change writes the state file.
//!
//! Changes are serialised across processes by an advisory lock on `models/.lock`, so a
//! training's gate and an operator's `recd models promote` cannot lose each other's update.
//! Deleting versions is [`retention`]'s job; nothing else here removes a model directory.

mod files;
pub mod retention;
mod state;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use crate::ModelError;
use crate::artifact::Manifest;

pub use retention::gc;
pub use state::{Op, RegistryState};

use files::{Locked, err, sync_dir};

/// How many earlier `CURRENT`s the state remembers for rollback; older ones are forgotten
/// (their directories stay until retention deletes them). Enough for any sane chain of
/// rollbacks while keeping the state file a few hundred bytes.
pub const MAX_HISTORY: usize = 20;

/// The directory of `version` under `models_dir`.
pub fn version_dir(models_dir: &Path, version: &str) -> PathBuf {
    models_dir.join(version)
}

/// Every complete version (a directory with a readable manifest), oldest first.
pub fn list(models_dir: &Path) -> Result<Vec<Manifest>, ModelError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(models_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(err(models_dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| err(models_dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        match Manifest::read(&entry.path()) {
            Ok(m) => out.push(m),
            Err(e) => {
                tracing::warn!(version = %name, error = %e, "skipping a model directory without a valid manifest")
            }
        }
    }
    out.sort_by(|a, b| (a.created_ms, &a.version).cmp(&(b.created_ms, &b.version)));
    Ok(out)
}

/// The registry's state (an empty one when nothing was ever activated).
pub fn state(models_dir: &Path) -> Result<RegistryState, ModelError> {
    RegistryState::read(models_dir)
}

/// The active version, if one was activated.
pub fn current(models_dir: &Path) -> Result<Option<String>, ModelError> {
    Ok(state(models_dir)?.current)
}

/// What a change did: the version now current (or staged) and the one it replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The version `CURRENT` (or, for [`stage_candidate`], `CANDIDATE`) now names.
    pub version: String,
    /// The version it named before, if any.
    pub replaced: Option<String>,
}

/// Makes `version` the active one. The version must exist and its files must match their
/// checksums. The old `CURRENT` becomes the rollback target; if `version` was the candidate,
/// the candidate slot is emptied (activating it is promoting it).
pub fn activate(models_dir: &Path, version: &str) -> Result<Change, ModelError> {
    change(models_dir, &Op::Activate(version.to_string()))
}

/// Makes `version` the candidate (replacing an earlier candidate, which becomes an ordinary
/// version). `CURRENT` does not move. Checksums are verified first, as for [`activate`].
pub fn stage_candidate(models_dir: &Path, version: &str) -> Result<Change, ModelError> {
    change(models_dir, &Op::Stage(version.to_string()))
}

/// The candidate becomes `CURRENT`; the old `CURRENT` becomes the rollback target.
pub fn promote(models_dir: &Path) -> Result<Change, ModelError> {
    change(models_dir, &Op::Promote)
}

/// `CURRENT` goes back to the version it named before the last activation or promotion; the
/// version rolled back from is dropped from the history (a second rollback goes one further
/// back, it does not undo the first). The candidate, if any, stays.
pub fn rollback(models_dir: &Path) -> Result<Change, ModelError> {
    change(models_dir, &Op::Rollback)
}

/// Applies `op` under the lock, after checking that its target is a complete version here.
pub fn change(models_dir: &Path, op: &Op) -> Result<Change, ModelError> {
    let lock = Locked::take(models_dir)?;
    let mut state = lock.read()?;
    if let Some(target) = state.target(op) {
        check_version(models_dir, &target)?;
    }
    let change = state.apply(op).map_err(|e| in_dir(e, models_dir))?;
    lock.write(&state)?;
    Ok(change)
}

/// Replaces the whole state (under the lock): how a local copy of a remote store takes the
/// store's state once the versions it names are downloaded. Nothing is checked: the caller
/// copies a state that was valid where it came from.
pub fn replace_state(models_dir: &Path, state: &RegistryState) -> Result<(), ModelError> {
    let lock = Locked::take(models_dir)?;
    if &lock.read()? == state {
        return Ok(());
    }
    lock.write(state)
}

/// Names the models directory in a registry error, for the operator reading it.
fn in_dir(e: ModelError, models_dir: &Path) -> ModelError {
    match e {
        ModelError::Registry(msg) => {
            ModelError::Registry(format!("{msg} in {}", models_dir.display()))
        }
        other => other,
    }
}

/// Moves a fully written `tmp_dir` to `models_dir/<version>` (atomic rename) and syncs. The
/// version is neither current nor candidate until [`activate`] or [`stage_candidate`].
pub fn publish(models_dir: &Path, tmp_dir: &Path, version: &str) -> Result<PathBuf, ModelError> {
    let dir = version_dir(models_dir, version);
    std::fs::rename(tmp_dir, &dir).map_err(|e| err(&dir, e))?;
    sync_dir(models_dir)?;
    Ok(dir)
}

/// `version` names a complete version under `models_dir` whose files match their checksums.
pub fn check_version(models_dir: &Path, version: &str) -> Result<(), ModelError> {
    let dir = version_dir(models_dir, version);
    if !is_version_name(version) || !dir.is_dir() {
        return Err(ModelError::Artifact(format!(
            "no model version {version:?} in {}",
            models_dir.display()
        )));
    }
    Manifest::read(&dir)?.verify(&dir)
}

/// Whether `version` can name a version: one path component, not a dot name (dot names are
/// temporaries and trash). A state naming anything else was not written by recd.
pub fn is_version_name(version: &str) -> bool {
    !version.is_empty() && !version.contains(['/', '\\']) && !version.starts_with('.')
}
