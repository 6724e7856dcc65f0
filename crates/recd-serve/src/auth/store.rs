//! Where the keys that `recd keys` manages are kept, for the server that checks them and the
//! command that changes them: a file (one server's data dir, `[serve.auth] keys_file`), or, in
//! a fleet, a document on the feature store's Redis that every API process reads
//! (DECISIONS §3: API keys live in Redis in the scaled topology).
//!
//! Both hold the same entries as the same TOML (`[[keys]]`), checked by the same rules.
//! Servers poll a cheap stamp (the file's metadata, the document's version) and re-read the
//! keys only when it moved; writers change the keys whole — the file by a synced rename, the
//! document by compare-and-set, so two operators revoking at once never lose a revocation.

use std::path::{Path, PathBuf};

use recd_bus::SharedDoc;

use super::keys::{KeyEntry, KeysError, KeysFile, check};

/// A store of API keys. See the module docs.
pub trait KeyStore: Send + Sync {
    /// Where, for messages (`keys file /data/keys.toml`, `the fleet's Redis (recd:{keys})`).
    fn describe(&self) -> String;

    /// A token that changes whenever the keys may have changed (cheap: polled every 2 s).
    fn stamp(&self) -> Result<String, KeysError>;

    /// The stored keys.
    fn read(&self) -> Result<Vec<KeyEntry>, KeysError>;

    /// Applies `change` to the stored keys and stores the result, checked, as one change: a
    /// concurrent writer's change is never lost.
    fn update(
        &self,
        change: &mut dyn FnMut(&mut Vec<KeyEntry>) -> Result<(), KeysError>,
    ) -> Result<(), KeysError>;
}

/// The keys file of one server (or of a volume every process mounts).
pub struct FileKeys {
    path: PathBuf,
}

impl FileKeys {
    /// The file at `path` (a missing file holds no keys).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl KeyStore for FileKeys {
    fn describe(&self) -> String {
        format!("keys file {}", self.path.display())
    }

    fn stamp(&self) -> Result<String, KeysError> {
        use std::os::unix::fs::MetadataExt;
        Ok(match std::fs::metadata(&self.path) {
            Ok(m) => format!("{:?}/{}/{}", m.modified().ok(), m.len(), m.ino()),
            Err(_) => "missing".into(),
        })
    }

    fn read(&self) -> Result<Vec<KeyEntry>, KeysError> {
        Ok(KeysFile::read(&self.path)?.keys)
    }

    fn update(
        &self,
        change: &mut dyn FnMut(&mut Vec<KeyEntry>) -> Result<(), KeysError>,
    ) -> Result<(), KeysError> {
        let mut file = KeysFile::read(&self.path)?;
        change(&mut file.keys)?;
        check(&file.keys, &self.path.display().to_string())?;
        file.write(&self.path)
    }
}

/// The fleet's keys: the document `keys` on the feature store's Redis.
pub struct SharedKeys {
    doc: SharedDoc,
    name: String,
}

/// Compare-and-set rounds before a write gives up (each lost round means another writer
/// changed the keys in between; more than a few in a row is not contention but a fault).
const ATTEMPTS: usize = 20;

impl SharedKeys {
    /// The keys document of the fleet whose bus is configured by `bus`, on the Redis at
    /// `features_store` (connects on first use).
    pub fn open(features_store: &str, bus: &recd_bus::BusConfig) -> Result<Self, KeysError> {
        let doc = SharedDoc::open(features_store, "features.store", bus, "keys")
            .map_err(|e| store_error("features.store", e))?;
        Ok(Self {
            doc,
            name: format!("the fleet's Redis ({}:{{keys}})", bus.prefix),
        })
    }

    fn parse(&self, bytes: Option<Vec<u8>>) -> Result<Vec<KeyEntry>, KeysError> {
        let Some(bytes) = bytes else {
            return Ok(Vec::new());
        };
        let text = String::from_utf8(bytes).map_err(|e| KeysError::Parse {
            path: self.name.clone(),
            message: e.to_string(),
        })?;
        let file: KeysFile = toml::from_str(&text).map_err(|e| KeysError::Parse {
            path: self.name.clone(),
            message: e.to_string(),
        })?;
        check(&file.keys, &self.name)?;
        Ok(file.keys)
    }
}

fn store_error(where_: &str, e: impl std::fmt::Display) -> KeysError {
    KeysError::Store {
        where_: where_.to_string(),
        message: e.to_string(),
    }
}

impl KeyStore for SharedKeys {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn stamp(&self) -> Result<String, KeysError> {
        let v = self.doc.version().map_err(|e| store_error(&self.name, e))?;
        Ok(v.to_string())
    }

    fn read(&self) -> Result<Vec<KeyEntry>, KeysError> {
        let (_, bytes) = self.doc.load().map_err(|e| store_error(&self.name, e))?;
        self.parse(bytes)
    }

    fn update(
        &self,
        change: &mut dyn FnMut(&mut Vec<KeyEntry>) -> Result<(), KeysError>,
    ) -> Result<(), KeysError> {
        for _ in 0..ATTEMPTS {
            let (version, bytes) = self.doc.load().map_err(|e| store_error(&self.name, e))?;
            let mut keys = self.parse(bytes)?;
            change(&mut keys)?;
            check(&keys, &self.name)?;
            let text = toml::to_string(&KeysFile { keys }).map_err(|e| KeysError::Parse {
                path: self.name.clone(),
                message: e.to_string(),
            })?;
            let stored = self
                .doc
                .replace(version, text.as_bytes())
                .map_err(|e| store_error(&self.name, e))?;
            if stored.is_some() {
                return Ok(());
            }
        }
        Err(store_error(
            &self.name,
            format!("the keys changed under {ATTEMPTS} attempts in a row to change them"),
        ))
    }
}
