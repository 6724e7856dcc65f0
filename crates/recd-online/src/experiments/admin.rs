//! Experiments as data: those of the config file, and those stored by the admin API, which
//! win over the file's of the same name. Where the stored ones live (DECISIONS §3): for one
//! server, in one JSON file of the data dir (`experiments.json`), replaced atomically on each
//! change, so a restart serves the same experiments and every assignment stays where it was;
//! for a fleet, in a [`SharedStore`] (a versioned document on Redis) that every API process
//! changes by compare-and-set and polls ([`ExperimentAdmin::refresh`]), so every process
//! assigns a user to the same variant.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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
    #[error("experiments {path}: {message}")]
    Storage {
        /// The file, or the fleet's shared document.
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

/// Where a fleet keeps its stored experiments: one versioned document that every API process
/// reads, and replaces only if nobody changed it since it read it (errors are messages: the
/// store is the server's concern, not the caller's).
pub trait SharedStore: Send + Sync {
    /// The document's version (0: never written) and bytes.
    fn load(&self) -> Result<(u64, Option<Vec<u8>>), String>;
    /// Only the version, for a cheap poll.
    fn version(&self) -> Result<u64, String>;
    /// Replaces the document if its version is still `expected`: the new version, or `None`
    /// when another process changed it first.
    fn replace(&self, expected: u64, doc: &[u8]) -> Result<Option<u64>, String>;
}

/// Where the stored experiments live.
enum Storage {
    /// Nowhere: changes last as long as the process.
    Memory,
    File(PathBuf),
    Shared(Arc<dyn SharedStore>),
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Storage::Memory => f.write_str("memory"),
            Storage::File(p) => write!(f, "{}", p.display()),
            Storage::Shared(_) => f.write_str(SHARED),
        }
    }
}

/// How the shared document is named in errors.
const SHARED: &str = "the fleet's shared document";

/// How many times a change is redone when other processes keep changing the set first.
const MAX_ATTEMPTS: usize = 16;

/// The experiments a server runs, and the one place that changes them.
#[derive(Debug)]
pub struct ExperimentAdmin {
    storage: Storage,
    base: RecommendConfig,
    from_config: BTreeMap<String, ExperimentSpec>,
    /// The stored set, and its version in the shared store (0 otherwise).
    stored: Mutex<(u64, BTreeMap<String, ExperimentSpec>)>,
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
            storage: file.map_or(Storage::Memory, Storage::File),
            base,
            from_config,
            stored: Mutex::new((0, stored)),
        };
        admin.compile()?;
        Ok(admin)
    }

    /// The config file's experiments plus those of a fleet's `shared` store. A store that
    /// does not answer yet is not fatal (a server starts while Redis is down and answers
    /// from caches): its set is read by the first [`Self::refresh`] that reaches it.
    pub fn open_shared(
        shared: Arc<dyn SharedStore>,
        base: RecommendConfig,
        from_config: BTreeMap<String, ExperimentSpec>,
    ) -> Result<Self, AdminError> {
        let admin = Self {
            storage: Storage::Shared(shared),
            base,
            from_config,
            stored: Mutex::new((0, BTreeMap::new())),
        };
        admin.compile()?;
        if let Err(e) = admin.refresh() {
            tracing::warn!(error = %e, "the fleet's experiments are not readable yet; serving the config file's");
        }
        Ok(admin)
    }

    /// Reads the shared store's set if another process changed it: the new set compiled for
    /// assignment, or `None` when nothing changed (or there is no shared store). A set that
    /// does not compile here (a process with another base config) is an error, and the
    /// process keeps the set it had.
    pub fn refresh(&self) -> Result<Option<Experiments>, AdminError> {
        let Storage::Shared(shared) = &self.storage else {
            return Ok(None);
        };
        let known = self.stored().0;
        let version = shared.version().map_err(shared_error)?;
        if version == known {
            return Ok(None);
        }
        let (version, set) = load_shared(shared.as_ref())?;
        let compiled = Experiments::compile(&self.merged(&set), &self.base)?;
        *self.stored() = (version, set);
        Ok(Some(compiled))
    }

    fn stored(&self) -> std::sync::MutexGuard<'_, (u64, BTreeMap<String, ExperimentSpec>)> {
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
        let stored = self.stored().1.clone();
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
        let stored = self.stored().1.clone();
        Experiments::compile(&self.merged(&stored), &self.base)
    }

    /// Stores `spec` as experiment `name` (replacing any), after checking that it compiles
    /// with every other experiment (a running one may not overlap another's buckets in its
    /// layer): nothing is changed when it does not. Returns the new set for assignment.
    /// With a shared store the check is made against the fleet's latest set, and the change
    /// is redone when another process changed the set in between.
    pub fn put(&self, name: &str, spec: ExperimentSpec) -> Result<Experiments, AdminError> {
        if let Storage::Shared(shared) = &self.storage {
            return self.put_shared(shared.as_ref(), name, spec);
        }
        let mut stored = self.stored();
        let mut next = stored.1.clone();
        next.insert(name.to_string(), spec);
        let compiled = Experiments::compile(&self.merged(&next), &self.base)?;
        if let Storage::File(path) = &self.storage {
            write_atomically(
                path,
                &StoredFile {
                    experiments: next.clone(),
                },
            )?;
        }
        stored.1 = next;
        Ok(compiled)
    }

    fn put_shared(
        &self,
        shared: &dyn SharedStore,
        name: &str,
        spec: ExperimentSpec,
    ) -> Result<Experiments, AdminError> {
        for _ in 0..MAX_ATTEMPTS {
            let (version, mut next) = load_shared(shared)?;
            next.insert(name.to_string(), spec.clone());
            let compiled = Experiments::compile(&self.merged(&next), &self.base)?;
            let bytes = serde_json::to_vec(&StoredFile {
                experiments: next.clone(),
            })
            .map_err(|e| shared_error(e.to_string()))?;
            if let Some(new_version) = shared.replace(version, &bytes).map_err(shared_error)? {
                *self.stored() = (new_version, next);
                return Ok(compiled);
            }
        }
        Err(shared_error(format!(
            "changed by other processes {MAX_ATTEMPTS} times while this change was made; try again"
        )))
    }
}

fn load_shared(
    shared: &dyn SharedStore,
) -> Result<(u64, BTreeMap<String, ExperimentSpec>), AdminError> {
    let (version, bytes) = shared.load().map_err(shared_error)?;
    let set = match bytes {
        Some(b) => {
            serde_json::from_slice::<StoredFile>(&b)
                .map_err(|e| shared_error(e.to_string()))?
                .experiments
        }
        None => BTreeMap::new(),
    };
    Ok((version, set))
}

fn shared_error(message: String) -> AdminError {
    AdminError::Storage {
        path: SHARED.into(),
        message,
    }
}

fn storage(path: &std::path::Path, message: String) -> AdminError {
    AdminError::Storage {
        path: path.display().to_string(),
        message,
    }
}

/// Writes `file` so that a crash leaves the old file or the new one.
fn write_atomically(path: &std::path::Path, file: &StoredFile) -> Result<(), AdminError> {
    let bytes = serde_json::to_vec_pretty(file).map_err(|e| storage(path, e.to_string()))?;
    crate::fs::replace_file(path, &bytes).map_err(|e| storage(path, e.to_string()))
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
                    model: None,
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

    /// A shared store in memory, as the fleet's Redis document behaves.
    #[derive(Default)]
    struct Doc(Mutex<(u64, Option<Vec<u8>>)>);

    impl SharedStore for Doc {
        fn load(&self) -> Result<(u64, Option<Vec<u8>>), String> {
            Ok(self.0.lock().unwrap().clone())
        }
        fn version(&self) -> Result<u64, String> {
            Ok(self.0.lock().unwrap().0)
        }
        fn replace(&self, expected: u64, doc: &[u8]) -> Result<Option<u64>, String> {
            let mut d = self.0.lock().unwrap();
            if d.0 != expected {
                return Ok(None);
            }
            *d = (expected + 1, Some(doc.to_vec()));
            Ok(Some(d.0))
        }
    }

    #[test]
    fn processes_sharing_a_store_see_each_others_changes_and_check_against_them() {
        let doc: Arc<dyn SharedStore> = Arc::new(Doc::default());
        let open = || {
            ExperimentAdmin::open_shared(doc.clone(), RecommendConfig::default(), BTreeMap::new())
                .unwrap()
        };
        let (a, b) = (open(), open());
        assert!(b.refresh().unwrap().is_none(), "nothing changed yet");
        a.put("one", spec(Status::Running, &[50.0, 50.0])).unwrap();
        // B has not polled yet, but its change is checked against the fleet's set: a second
        // running experiment over the same buckets of the layer is refused.
        assert!(matches!(
            b.put("two", spec(Status::Running, &[100.0])),
            Err(AdminError::Invalid(_))
        ));
        let polled = b.refresh().unwrap().expect("A's change");
        assert!(!polled.is_empty());
        assert_eq!(b.list()["one"].1, Source::Api);
        // A change made through B keeps A's: the set is read again before it is replaced.
        b.put("three", spec(Status::Draft, &[100.0])).unwrap();
        a.refresh().unwrap().expect("B's change");
        assert_eq!(a.list().keys().collect::<Vec<_>>(), ["one", "three"]);
        // A process started later reads the whole set.
        assert_eq!(open().list().len(), 2);
    }
}
