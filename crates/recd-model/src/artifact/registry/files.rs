//! The registry's files: the lock that serialises changes, and durable atomic replacement.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::RegistryState;
use crate::ModelError;

/// The state file (the source of truth).
pub(super) const STATE: &str = "STATE.json";
/// The one-line mirror of `current`, for scripts and older tools.
pub(super) const CURRENT: &str = "CURRENT";
/// The advisory lock taken for every change.
const LOCK: &str = ".lock";

pub(super) fn err(path: &Path, e: std::io::Error) -> ModelError {
    ModelError::Artifact(format!("{}: {e}", path.display()))
}

/// Syncs a directory, so the renames and removals in it survive a crash.
pub(super) fn sync_dir(dir: &Path) -> Result<(), ModelError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| err(dir, e))
}

/// The registry lock, held while reading, changing and writing the state. The kernel drops
/// it when the process dies, so a crash never leaves the registry locked.
pub(super) struct Locked<'a> {
    models_dir: &'a Path,
    _file: File,
}

impl<'a> Locked<'a> {
    /// Waits for the lock (changes are short: a few small writes and syncs).
    pub(super) fn take(models_dir: &'a Path) -> Result<Self, ModelError> {
        std::fs::create_dir_all(models_dir).map_err(|e| err(models_dir, e))?;
        let path = models_dir.join(LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| err(&path, e))?;
        file.lock().map_err(|e| err(&path, e))?;
        Ok(Self {
            models_dir,
            _file: file,
        })
    }

    /// The state as of now (no other process can change it while the lock is held).
    pub(super) fn read(&self) -> Result<RegistryState, ModelError> {
        RegistryState::read(self.models_dir)
    }

    /// Replaces the state, then its `CURRENT` mirror, each durably and atomically.
    pub(super) fn write(&self, state: &RegistryState) -> Result<(), ModelError> {
        let text = serde_json::to_string_pretty(state)
            .map_err(|e| ModelError::Artifact(format!("encoding the registry state: {e}")))?;
        replace(self.models_dir, STATE, &text)?;
        let mirror = state.current.as_deref().map(|v| format!("{v}\n"));
        match mirror {
            Some(line) => replace(self.models_dir, CURRENT, &line),
            None => Ok(()),
        }
    }
}

/// Replaces `dir/name` with `text`: [`stage`], then [`commit`].
pub(super) fn replace(dir: &Path, name: &str, text: &str) -> Result<(), ModelError> {
    stage(dir, name, text)?;
    commit(dir, name)
}

/// The temporary file [`stage`] writes for `name`: a dot name, which [`super::list`] skips.
pub(super) fn tmp_name(name: &str) -> String {
    format!(".{name}.tmp")
}

/// Writes `text` to the temporary file of `name` and syncs it. Until [`commit`] renames it,
/// readers see only the old file: a crash here leaves a stray temporary, never a torn state.
pub(super) fn stage(dir: &Path, name: &str, text: &str) -> Result<(), ModelError> {
    let tmp = dir.join(tmp_name(name));
    let mut f = File::create(&tmp).map_err(|e| err(&tmp, e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| err(&tmp, e))
}

/// Renames the staged file over `name` (atomic) and syncs the directory (durable).
pub(super) fn commit(dir: &Path, name: &str) -> Result<(), ModelError> {
    let tmp = dir.join(tmp_name(name));
    let path = dir.join(name);
    std::fs::rename(&tmp, &path).map_err(|e| err(&path, e))?;
    sync_dir(dir)
}
