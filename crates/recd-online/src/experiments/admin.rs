//! Experiments as data: those of the config file, and those stored by the admin API, which
//! win over the file's of the same name. The stored ones live in one JSON file of the data
//! dir (`experiments.json`), replaced atomically on each change, so a restart serves the same
//! experiments and every assignment stays where it was.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{ExperimentError, ExperimentSpec, Experiments};
use crate::RecommendConfig;

/// Where an experiment's definition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `[experiments.<name>]` of the config file.
    Config,
    /// Stored through the admin API.
    Api,
}

/// Why a change was refused or not saved.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The definition (with every other experiment) does not compile: the caller's.
    #[error(transparent)]
    Invalid(#[from] ExperimentError),
    /// The stored definitions could not be read or written: the server's.
    #[error("experiments file {path}: {message}")]
    Storage {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredFile {
    experiments: BTreeMap<String, ExperimentSpec>,
}

/// The experiments a server runs, and the one place that changes them.
#[derive(Debug)]
pub struct ExperimentAdmin {
    file: Option<PathBuf>,
    base: RecommendConfig,
    from_config: BTreeMap<String, ExperimentSpec>,
    stored: Mutex<BTreeMap<String, ExperimentSpec>>,
}

impl ExperimentAdmin {
    /// The config file's experiments plus those stored in `file` (if it exists; `None` keeps
    /// changes in memory only), over `base` settings.
    pub fn open(
        file: Option<PathBuf>,
        base: RecommendConfig,
        from_config: BTreeMap<String, ExperimentSpec>,
    ) -> Result<Self, AdminError> {
        let stored = match &file {
            Some(path) => match std::fs::read(path) {
                Ok(bytes) => {
                    serde_json::from_slice::<StoredFile>(&bytes)
                        .map_err(|e| storage(path, e.to_string()))?
                        .experiments
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
                Err(e) => return Err(storage(path, e.to_string())),
            },
            None => BTreeMap::new(),
        };
        let admin = Self {
            file,
            base,
            from_config,
            stored: Mutex::new(stored),
        };
        admin.compile()?;
        Ok(admin)
    }

    fn stored(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ExperimentSpec>> {
        self.stored
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn merged(
        &self,
        stored: &BTreeMap<String, ExperimentSpec>,
    ) -> BTreeMap<String, ExperimentSpec> {
        let mut all = self.from_config.clone();
        all.extend(stored.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// Every experiment with where it comes from, by name.
    pub fn list(&self) -> BTreeMap<String, (ExperimentSpec, Source)> {
        let stored = self.stored();
        let mut all: BTreeMap<_, _> = self
            .from_config
            .iter()
            .map(|(k, v)| (k.clone(), (v.clone(), Source::Config)))
            .collect();
        all.extend(
            stored
                .iter()
                .map(|(k, v)| (k.clone(), (v.clone(), Source::Api))),
        );
        all
    }

    /// The experiments compiled for assignment.
    pub fn compile(&self) -> Result<Experiments, ExperimentError> {
        Experiments::compile(&self.merged(&self.stored()), &self.base)
    }

    /// Stores `spec` as experiment `name` (replacing any), after checking that it compiles
    /// with every other experiment (a running one may not overlap another's buckets in its
    /// layer): nothing is changed when it does not. Returns the new set for assignment.
    pub fn put(&self, name: &str, spec: ExperimentSpec) -> Result<Experiments, AdminError> {
        let mut stored = self.stored();
        let mut next = stored.clone();
        next.insert(name.to_string(), spec);
        let compiled = Experiments::compile(&self.merged(&next), &self.base)?;
        if let Some(path) = &self.file {
            write_atomically(
                path,
                &StoredFile {
                    experiments: next.clone(),
                },
            )?;
        }
        *stored = next;
        Ok(compiled)
    }
}

fn storage(path: &std::path::Path, message: String) -> AdminError {
    AdminError::Storage {
        path: path.display().to_string(),
        message,
    }
}

/// Writes `file` to a temporary name, syncs it, renames it over `path` and syncs the dir: a
/// crash leaves the old file or the new one, never half of one.
fn write_atomically(path: &std::path::Path, file: &StoredFile) -> Result<(), AdminError> {
    let bytes = serde_json::to_vec_pretty(file).map_err(|e| storage(path, e.to_string()))?;
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| storage(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::{Status, VariantSpec};

    fn spec(status: Status, shares: &[f64]) -> ExperimentSpec {
        ExperimentSpec {
            salt: "s".into(),
            status,
            layer: "default".into(),
            layer_buckets: [0, 10_000],
            variants: shares
                .iter()
                .enumerate()
                .map(|(k, &share)| VariantSpec {
                    name: format!("v{k}"),
                    share,
                    baseline: None,
                    recommend: Default::default(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_stored_experiment_survives_a_reopen_and_a_bad_one_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("experiments.json");
        let admin = ExperimentAdmin::open(
            Some(file.clone()),
            RecommendConfig::default(),
            BTreeMap::new(),
        )
        .unwrap();
        admin
            .put("a", spec(Status::Running, &[50.0, 50.0]))
            .unwrap();
        // Shares that do not sum to 100: refused, naming the field; nothing stored.
        let bad = admin.put("b", spec(Status::Running, &[50.0, 40.0]));
        match bad {
            Err(AdminError::Invalid(e)) => assert_eq!(e.field, "experiments.b.variants"),
            other => panic!("{other:?}"),
        }
        // A second running experiment over the same buckets of the layer: refused.
        assert!(matches!(
            admin.put("c", spec(Status::Running, &[100.0])),
            Err(AdminError::Invalid(_))
        ));
        let reopened =
            ExperimentAdmin::open(Some(file), RecommendConfig::default(), BTreeMap::new()).unwrap();
        let list = reopened.list();
        assert_eq!(list.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(list["a"].1, Source::Api);
        assert!(!reopened.compile().unwrap().is_empty());
    }

    #[test]
    fn the_api_wins_over_the_config_file() {
        let from_config = BTreeMap::from([("a".to_string(), spec(Status::Draft, &[100.0]))]);
        let admin = ExperimentAdmin::open(None, RecommendConfig::default(), from_config).unwrap();
        assert_eq!(admin.list()["a"].1, Source::Config);
        assert!(
            admin.compile().unwrap().is_empty(),
            "a draft assigns nobody"
        );
        let running = admin.put("a", spec(Status::Running, &[100.0])).unwrap();
        assert!(!running.is_empty());
        assert_eq!(admin.list()["a"].1, Source::Api);
    }
}
