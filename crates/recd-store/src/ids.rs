//! Dense id maps: external string id <-> `u32` index, persisted as an append-only file.
//!
//! Models are arrays indexed by user and item; the map says which row belongs to which id.
//! Indices are handed out in order of first appearance and never change, so a model trained
//! yesterday and today's log agree on them. The file is one id per line (ids cannot contain
//! control characters, so `\n` is a safe separator); the line number is the index.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use recd_types::Idx;

use crate::StoreError;

/// A persisted, append-only map between external ids and dense indices.
pub struct IdMap {
    path: PathBuf,
    inner: RwLock<Inner>,
}

struct Inner {
    by_name: HashMap<Box<str>, Idx>,
    names: Vec<Box<str>>,
    file: File,
}

impl IdMap {
    /// Opens (or creates) the map stored at `path`. A torn last line, left by a crash in the
    /// middle of a write, is dropped with a warning: its id was never acknowledged.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let io = |e| StoreError::io(&path, e);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        let (names, good_len) = read_names(&path, &file)?;
        let file_len = file.metadata().map_err(io)?.len();
        if good_len < file_len {
            tracing::warn!(path = %path.display(), dropped_bytes = file_len - good_len, "id map had a torn last line; truncating it");
            file.set_len(good_len).map_err(io)?;
            file.sync_data().map_err(io)?;
            file.seek(SeekFrom::End(0)).map_err(io)?;
        }
        let mut by_name = HashMap::with_capacity(names.len());
        for (idx, name) in names.iter().enumerate() {
            if by_name.insert(name.clone(), idx as Idx).is_some() {
                return Err(StoreError::Corrupt {
                    path,
                    reason: format!("id {name:?} appears twice"),
                });
            }
        }
        Ok(Self {
            path,
            inner: RwLock::new(Inner {
                by_name,
                names,
                file,
            }),
        })
    }

    /// The index of `name`, if it has one.
    pub fn get(&self, name: &str) -> Option<Idx> {
        self.read().by_name.get(name).copied()
    }

    /// The id at `idx`, if there is one.
    pub fn name(&self, idx: Idx) -> Option<String> {
        self.read().names.get(idx as usize).map(|n| n.to_string())
    }

    /// Number of ids in the map.
    pub fn len(&self) -> usize {
        self.read().names.len()
    }

    /// True when the map holds no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All ids in index order.
    pub fn names(&self) -> Vec<String> {
        self.read().names.iter().map(|n| n.to_string()).collect()
    }

    /// Returns the index of each name, giving new names the next free indices. New names are
    /// written and synced before this returns, so no acknowledged record can name an id the
    /// map has lost. One sync per call, whatever the number of new names.
    pub fn intern<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Idx>, StoreError> {
        let names: Vec<&str> = names.into_iter().collect();
        if let Some(found) = self.lookup_all(&names) {
            return Ok(found);
        }
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::with_capacity(names.len());
        let mut appended = String::new();
        for name in names {
            let next = inner.names.len() as Idx;
            let idx = *inner.by_name.entry(name.into()).or_insert(next);
            if idx == next {
                inner.names.push(name.into());
                appended.push_str(name);
                appended.push('\n');
            }
            out.push(idx);
        }
        if !appended.is_empty() {
            let io = |e| StoreError::io(&self.path, e);
            inner.file.write_all(appended.as_bytes()).map_err(io)?;
            inner.file.sync_data().map_err(io)?;
        }
        Ok(out)
    }

    fn lookup_all(&self, names: &[&str]) -> Option<Vec<Idx>> {
        let inner = self.read();
        names
            .iter()
            .map(|n| inner.by_name.get(*n).copied())
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters: names and by_name are pushed together before the file write.
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// Reads complete lines; returns the names and the byte length they cover.
fn read_names(path: &Path, file: &File) -> Result<(Vec<Box<str>>, u64), StoreError> {
    let mut reader = BufReader::new(file);
    reader
        .seek(SeekFrom::Start(0))
        .map_err(|e| StoreError::io(path, e))?;
    let mut names = Vec::new();
    let mut good_len = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| StoreError::io(path, e))?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        let name = std::str::from_utf8(&line[..n - 1]).map_err(|_| StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("line {} is not UTF-8", names.len() + 1),
        })?;
        names.push(name.into());
        good_len += n as u64;
    }
    Ok((names, good_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_dense_stable_and_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.ids");
        let map = IdMap::open(&path).unwrap();
        assert_eq!(map.intern(["a", "b", "a"]).unwrap(), vec![0, 1, 0]);
        assert_eq!(map.intern(["c", "b"]).unwrap(), vec![2, 1]);
        drop(map);
        let map = IdMap::open(&path).unwrap();
        assert_eq!(map.len(), 3);
        assert_eq!(map.get("c"), Some(2));
        assert_eq!(map.name(1).as_deref(), Some("b"));
        assert_eq!(map.intern(["d"]).unwrap(), vec![3]);
    }

    #[test]
    fn a_torn_last_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("items.ids");
        std::fs::write(&path, "x\ny\npartial").unwrap();
        let map = IdMap::open(&path).unwrap();
        assert_eq!(map.names(), vec!["x", "y"]);
        assert_eq!(map.intern(["z"]).unwrap(), vec![2]);
        drop(map);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x\ny\nz\n");
    }
}
