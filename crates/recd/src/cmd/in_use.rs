//! Telling the user what to do when another process owns a data dir.
//!
//! One process writes a data dir: the event log's writer holds an exclusive lock on its `LOCK`
//! file, and the store reports a second writer as an i/o error of kind `WouldBlock` on that
//! path. That error alone ("already open for writing") does not say what to do; the commands
//! that write a data dir turn it into [`DataDirInUse`], which does. Matched here, in the
//! binary, from the store's error rather than by a new store variant: the store's log is
//! being reworked and the lock's error kind is the stable part of its contract.

use std::path::{Path, PathBuf};

/// What the user was doing, for the advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doing {
    /// `recd import`: it can go through the running server instead.
    Import,
    /// `recd gen` or `recd demo`: only another dir or stopping the server helps.
    Write,
    /// `recd log compact`: the running server can do it.
    Compact,
}

/// The data dir's log is locked by another process.
#[derive(Debug)]
pub struct DataDirInUse {
    /// The data dir.
    pub dir: PathBuf,
    /// What was tried.
    pub doing: Doing,
}

impl std::fmt::Display for DataDirInUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dir = self.dir.display();
        write!(
            f,
            "data dir {dir} is in use by another recd process (probably `recd serve`): "
        )?;
        match self.doing {
            Doing::Import => write!(
                f,
                "import through it with `recd import --server http://HOST:PORT ...`, or stop it first"
            ),
            Doing::Write => write!(f, "stop it first, or use another data dir"),
            Doing::Compact => write!(
                f,
                "have it compact its own logs with `recd log compact --server http://HOST:PORT ...` (or [store.retention]), or stop it first"
            ),
        }
    }
}

impl std::error::Error for DataDirInUse {}

/// Replaces `err` by [`DataDirInUse`] for `dir` when its cause is the log's lock held by
/// another process (or an earlier [`DataDirInUse`], re-worded for `doing`); else returns it
/// unchanged.
pub fn explain(err: anyhow::Error, dir: &Path, doing: Doing) -> anyhow::Error {
    if is_locked(&err) {
        anyhow::Error::new(DataDirInUse {
            dir: dir.to_path_buf(),
            doing,
        })
    } else {
        err
    }
}

fn is_locked(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        if cause.is::<DataDirInUse>() {
            return true;
        }
        match cause.downcast_ref::<recd_store::StoreError>() {
            Some(recd_store::StoreError::Io { path, source }) => {
                source.kind() == std::io::ErrorKind::WouldBlock
                    && path.file_name().is_some_and(|name| name == "LOCK")
            }
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock_error(path: &str) -> anyhow::Error {
        let source = std::io::Error::new(std::io::ErrorKind::WouldBlock, "already open");
        anyhow::Error::new(recd_store::StoreError::io(path, source)).context("opening data dir d")
    }

    #[test]
    fn the_lock_error_becomes_advice() {
        let err = explain(lock_error("d/log/LOCK"), Path::new("d"), Doing::Import);
        assert_eq!(
            format!("{err:#}"),
            "data dir d is in use by another recd process (probably `recd serve`): import \
             through it with `recd import --server http://HOST:PORT ...`, or stop it first"
        );
        let again = explain(err.context("step"), Path::new("d"), Doing::Write);
        assert!(
            again
                .to_string()
                .ends_with("stop it first, or use another data dir"),
            "{again}"
        );
    }

    #[test]
    fn other_errors_pass_through() {
        let other = explain(lock_error("d/log/00000.seg"), Path::new("d"), Doing::Import);
        assert!(other.to_string().starts_with("opening data dir"), "{other}");
        let other = anyhow::anyhow!("no");
        assert_eq!(
            explain(other, Path::new("d"), Doing::Write).to_string(),
            "no"
        );
    }
}
