//! The registry of model versions under a models directory, and the `CURRENT` pointer.
//!
//! `CURRENT` is a one-line text file naming the active version. It is replaced by writing a
//! temporary file, syncing it, and renaming it over the old one, so a reader (the server's
//! model watcher) sees either the old or the new name, never a torn one. Activating an older
//! version is a rollback; nothing is deleted.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::ModelError;
use crate::artifact::Manifest;

const CURRENT: &str = "CURRENT";

fn err(path: &Path, e: std::io::Error) -> ModelError {
    ModelError::Artifact(format!("{}: {e}", path.display()))
}

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

/// The active version, if one was activated.
pub fn current(models_dir: &Path) -> Result<Option<String>, ModelError> {
    let path = models_dir.join(CURRENT);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_string()).filter(|v| !v.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err(&path, e)),
    }
}

/// Makes `version` the active one (atomic replace of `CURRENT`). The version must exist and
/// its files must match their checksums.
pub fn activate(models_dir: &Path, version: &str) -> Result<(), ModelError> {
    let dir = version_dir(models_dir, version);
    if version.contains(['/', '\\']) || version.starts_with('.') || !dir.is_dir() {
        return Err(ModelError::Artifact(format!(
            "no model version {version:?} in {}",
            models_dir.display()
        )));
    }
    Manifest::read(&dir)?.verify(&dir)?;
    let tmp = models_dir.join(".CURRENT.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| err(&tmp, e))?;
    writeln!(f, "{version}")
        .and_then(|()| f.sync_all())
        .map_err(|e| err(&tmp, e))?;
    let path = models_dir.join(CURRENT);
    std::fs::rename(&tmp, &path).map_err(|e| err(&path, e))?;
    sync_dir(models_dir)
}

/// Moves a fully written `tmp_dir` to `models_dir/<version>` (atomic rename) and syncs.
pub fn publish(models_dir: &Path, tmp_dir: &Path, version: &str) -> Result<PathBuf, ModelError> {
    let dir = version_dir(models_dir, version);
    std::fs::rename(tmp_dir, &dir).map_err(|e| err(&dir, e))?;
    sync_dir(models_dir)?;
    Ok(dir)
}

fn sync_dir(dir: &Path) -> Result<(), ModelError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| err(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::FORMAT_VERSION;

    fn make(models: &Path, version: &str, created_ms: i64) {
        let tmp = models.join(format!(".tmp-{version}"));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("x.json"), "{}").unwrap();
        let mut m = Manifest {
            format_version: FORMAT_VERSION,
            version: version.into(),
            created_ms,
            data_window_ms: (0, 1),
            params: serde_json::json!({}),
            metrics: serde_json::json!({"pipeline": {"ndcg@10": 0.1}}),
            files: Default::default(),
        };
        m.write(&tmp).unwrap();
        publish(models, &tmp, version).unwrap();
    }

    #[test]
    fn activate_rolls_forward_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let models = dir.path();
        assert_eq!(current(models).unwrap(), None);
        make(models, "v1", 1);
        make(models, "v2", 2);
        let names: Vec<String> = list(models)
            .unwrap()
            .into_iter()
            .map(|m| m.version)
            .collect();
        assert_eq!(names, ["v1", "v2"]);
        activate(models, "v2").unwrap();
        assert_eq!(current(models).unwrap().as_deref(), Some("v2"));
        activate(models, "v1").unwrap();
        assert_eq!(current(models).unwrap().as_deref(), Some("v1"));
        assert!(activate(models, "v3").is_err());
        assert!(activate(models, "../v1").is_err());
    }

    #[test]
    fn a_damaged_version_is_not_activated() {
        let dir = tempfile::tempdir().unwrap();
        make(dir.path(), "v1", 1);
        std::fs::write(dir.path().join("v1/x.json"), "{\"changed\":1}").unwrap();
        assert!(activate(dir.path(), "v1").is_err());
    }
}
