//! API keys: what a key is, how it is stored (its SHA-256, never the key), and how a presented
//! key is checked.
//!
//! A key is `recd_` followed by 48 hex digits (24 random bytes from the OS). Only its SHA-256
//! is kept, in the config (`[serve.auth] keys`) or in the store that `recd keys create` writes
//! (`super::store`: the keys file, `<data dir>/keys.toml` unless `[serve.auth] keys_file`
//! names another, or in a fleet the fleet's Redis); all hold entries of the same shape. A presented key is hashed and compared with every stored hash in
//! constant time, so neither the timing of a comparison nor which entry matched leaks.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a key may do. `admin` includes the other two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Recommendations, similar items, trending, catalog reads.
    Read,
    /// `POST /v1/events`.
    Ingest,
    /// Catalog and profile writes, user deletion, features debug, `/v1/admin/*`, and
    /// `/metrics` when `[serve.auth] protect_metrics` is set.
    Admin,
}

impl Scope {
    /// Every scope, in declaration order.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Ingest, Scope::Admin];

    /// The name used in the config, the CLI and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Ingest => "ingest",
            Scope::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| format!("unknown scope {s:?}; the scopes are read, ingest and admin"))
    }
}

/// One stored key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// A name for the key (logs, metrics, rate limits and `recd keys revoke` use it).
    pub id: String,
    /// SHA-256 of the key, 64 hex digits.
    pub sha256: String,
    /// What the key may do.
    pub scopes: Vec<Scope>,
    /// When it was created (RFC 3339), for operators; not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

impl KeyEntry {
    /// Whether the key allows `scope` (`admin` allows everything).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }
}

/// Why keys could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The keys file could not be read or written.
    #[error("keys file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The keys file is not valid TOML of the expected shape (the message has line and column).
    #[error("keys file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with the line and column.
        message: String,
    },
    /// The store holding the keys (the fleet's Redis) could not be read or written.
    #[error("{where_}: {message}")]
    Store {
        /// The store.
        where_: String,
        /// The cause.
        message: String,
    },
    /// An entry breaks a rule.
    #[error("{where_}: key {id:?}: {message}")]
    Invalid {
        /// The config key or file the entry came from.
        where_: String,
        /// The entry's id.
        id: String,
        /// What is wrong.
        message: String,
    },
}

/// The keys file's shape: `[[keys]]` entries.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysFile {
    /// The entries.
    #[serde(default)]
    pub keys: Vec<KeyEntry>,
}

impl KeysFile {
    /// Reads `path`; a missing file has no keys.
    pub fn read(path: &Path) -> Result<Self, KeysError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(KeysError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let file: KeysFile = toml::from_str(&text).map_err(|e| KeysError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        check(&file.keys, &path.display().to_string())?;
        Ok(file)
    }

    /// Writes the file whole (temp file, fsync, rename), readable by its owner only.
    pub fn write(&self, path: &Path) -> Result<(), KeysError> {
        let io = |source| KeysError::Io {
            path: path.display().to_string(),
            source,
        };
        let text = toml::to_string(self).map_err(|e| KeysError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let tmp = path.with_extension("toml.tmp");
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }
}

/// Checks entries: ids unique and non-empty, hashes of the right shape, at least one scope.
pub fn check(entries: &[KeyEntry], where_: &str) -> Result<(), KeysError> {
    let invalid = |id: &str, message: &str| KeysError::Invalid {
        where_: where_.to_string(),
        id: id.to_string(),
        message: message.to_string(),
    };
    for (i, e) in entries.iter().enumerate() {
        if e.id.is_empty() || e.id.len() > 64 || e.id.chars().any(|c| c.is_control()) {
            return Err(invalid(
                &e.id,
                "the id must be 1 to 64 printable characters",
            ));
        }
        if entries[..i].iter().any(|o| o.id == e.id) {
            return Err(invalid(&e.id, "two keys have this id"));
        }
        if e.sha256.len() != 64 || !e.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                &e.id,
                "sha256 must be 64 hex digits (the SHA-256 of the key, not the key)",
            ));
        }
        if e.scopes.is_empty() {
            return Err(invalid(&e.id, "a key needs at least one scope"));
        }
    }
    Ok(())
}

/// The SHA-256 of `key`, as 64 lowercase hex digits.
pub fn hash(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A new random key (`recd_` + 48 hex digits).
pub fn generate() -> Result<String, std::io::Error> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    let mut key = String::from("recd_");
    for b in bytes {
        key.push_str(&format!("{b:02x}"));
    }
    Ok(key)
}

/// The entry whose hash is `key`'s, found by comparing with every entry in constant time.
pub fn find<'a>(entries: &'a [KeyEntry], key: &str) -> Option<&'a KeyEntry> {
    let presented = hash(key);
    let mut found = None;
    for e in entries {
        // Every entry is compared, whether or not an earlier one matched.
        let equal = presented
            .as_bytes()
            .ct_eq(e.sha256.to_ascii_lowercase().as_bytes());
        if bool::from(equal) {
            found = Some(e);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, key: &str, scopes: &[Scope]) -> KeyEntry {
        KeyEntry {
            id: id.into(),
            sha256: hash(key),
            scopes: scopes.to_vec(),
            created: None,
        }
    }

    #[test]
    fn a_key_is_found_by_its_hash_and_admin_allows_everything() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("recd_") && a.len() == 53);
        let keys = vec![
            entry("reader", &a, &[Scope::Read]),
            entry("ops", &b, &[Scope::Admin]),
        ];
        let reader = find(&keys, &a).unwrap();
        assert_eq!(reader.id, "reader");
        assert!(reader.allows(Scope::Read) && !reader.allows(Scope::Ingest));
        assert!(find(&keys, &b).unwrap().allows(Scope::Ingest));
        assert!(find(&keys, "recd_nope").is_none());
        assert!(
            find(&keys, &keys[0].sha256).is_none(),
            "the hash is not the key"
        );
    }

    #[test]
    fn bad_entries_are_refused_naming_the_key() {
        let good = entry("a", "k", &[Scope::Read]);
        assert!(check(std::slice::from_ref(&good), "x").is_ok());
        let twice = vec![good.clone(), good.clone()];
        assert!(
            check(&twice, "x")
                .unwrap_err()
                .to_string()
                .contains("two keys")
        );
        let mut short = good.clone();
        short.sha256 = "abc".into();
        let e = check(&[short], "serve.auth.keys").unwrap_err().to_string();
        assert!(e.contains("serve.auth.keys") && e.contains("64 hex"), "{e}");
        let mut none = good;
        none.scopes.clear();
        assert!(check(&[none], "x").is_err());
    }

    #[test]
    fn the_keys_file_round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        assert!(KeysFile::read(&path).unwrap().keys.is_empty());
        let file = KeysFile {
            keys: vec![entry("a", "k", &[Scope::Read, Scope::Ingest])],
        };
        file.write(&path).unwrap();
        assert_eq!(KeysFile::read(&path).unwrap().keys, file.keys);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        std::fs::write(&path, "[[keys]]\nid = 1\n").unwrap();
        let e = KeysFile::read(&path).unwrap_err().to_string();
        assert!(e.contains("keys.toml") && e.contains("line"), "{e}");
    }
}
