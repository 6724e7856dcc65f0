//! `manifest.json`: what a model directory holds and how it was made.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use recd_types::EventWeights;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ModelError;
use crate::pipeline::CandidateConfig;

/// The artifact format this code writes and reads. Bump it when a file's meaning changes;
/// loaders refuse other versions instead of misreading them.
pub const FORMAT_VERSION: u32 = 1;

/// One file of the model and its checksum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Size in bytes.
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
}

/// The manifest of one model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Artifact format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The model version (= its directory name).
    pub version: String,
    /// When training finished, ms since the epoch.
    pub created_ms: i64,
    /// First and last event time used for training, ms since the epoch.
    pub data_window_ms: (i64, i64),
    /// Training parameters, as the trainer's config serialised them.
    pub params: serde_json::Value,
    /// Evaluation results (per generator and for the pipeline).
    pub metrics: serde_json::Value,
    /// Every other file in the directory with its checksum.
    pub files: BTreeMap<String, FileEntry>,
}

impl Manifest {
    /// Reads and checks `dir/manifest.json`: the format version must be ours.
    pub fn read(dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(ModelError::Artifact(format!(
                "{}: format version {} (this build reads {FORMAT_VERSION})",
                path.display(),
                manifest.format_version
            )));
        }
        Ok(manifest)
    }

    /// Writes `dir/manifest.json`, computing the checksum of every other regular file in `dir`.
    pub fn write(&mut self, dir: &Path) -> Result<(), ModelError> {
        self.files.clear();
        let entries = std::fs::read_dir(dir)
            .map_err(|e| ModelError::Artifact(format!("{}: {e}", dir.display())))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| ModelError::Artifact(format!("{}: {e}", dir.display())))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "manifest.json" || !entry.path().is_file() {
                continue;
            }
            self.files.insert(name, checksum(&entry.path())?);
        }
        let text =
            serde_json::to_string_pretty(self).map_err(|e| ModelError::Artifact(e.to_string()))?;
        let path = dir.join("manifest.json");
        std::fs::write(&path, text)
            .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))
    }

    /// Recomputes every file's checksum and compares it with the manifest.
    pub fn verify(&self, dir: &Path) -> Result<(), ModelError> {
        for (name, expected) in &self.files {
            let actual = checksum(&dir.join(name))?;
            if &actual != expected {
                return Err(ModelError::Artifact(format!(
                    "{}: checksum mismatch",
                    dir.join(name).display()
                )));
            }
        }
        Ok(())
    }

    /// The candidate quotas the model was evaluated with (`[train.candidates]`): what the
    /// online layer and `recd recommend` use unless `[serve.recommend.candidates]` overrides
    /// them. A manifest written before they were recorded gives the defaults.
    pub fn candidates(&self) -> Result<CandidateConfig, ModelError> {
        self.param("candidates")
    }

    /// The confidence weights the model was trained with (`[train.weights]`): the fold-in
    /// must weigh a user's recent events the same way. Defaults for an older manifest.
    pub fn event_weights(&self) -> Result<EventWeights, ModelError> {
        self.param("weights")
    }

    /// The confidence at which an item counts as relevant (`[train] relevance_min_confidence`):
    /// the scale of the history weights the model was trained with, which real-time history
    /// must share (`recd_types::Signal::history_weight`). 1 for a manifest without it.
    pub fn relevance_confidence(&self) -> f32 {
        self.params
            .get("relevance_min_confidence")
            .and_then(serde_json::Value::as_f64)
            .map_or(1.0, |v| v as f32)
    }

    /// One training parameter section, typed; its default when the manifest lacks it.
    fn param<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T, ModelError> {
        match self.params.get(key) {
            Some(value) => T::deserialize(value).map_err(|e| {
                ModelError::Artifact(format!("manifest of {}: params.{key}: {e}", self.version))
            }),
            None => Ok(T::default()),
        }
    }

    /// The pipeline's NDCG@10 on the hold-out, if the manifest has it (used by the gate).
    pub fn pipeline_ndcg(&self) -> Option<f64> {
        self.metrics.get("pipeline")?.get("ndcg@10")?.as_f64()
    }
}

fn checksum(path: &Path) -> Result<FileEntry, ModelError> {
    let err = |e: std::io::Error| ModelError::Artifact(format!("{}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(FileEntry { bytes, sha256 })
}
