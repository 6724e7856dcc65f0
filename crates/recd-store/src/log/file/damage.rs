//! What readers found damaged, kept per log handle, and the writer's quarantine copies.
//!
//! Every reader of a handle reports the damage it skipped here. The first report of each
//! damaged range logs an ERROR line; later reads of the same range stay quiet. In the
//! writer's process the damaged bytes are also copied to `quarantine/` in the log dir
//! (`<segment base>-<byte position>.bad`, with a `.txt` saying where they came from and
//! which offsets they held), so an operator can inspect them after `recd log repair` has
//! removed them from the segment. Readers in other processes never write.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::super::LogDamage;
use super::walk::{Damaged, read_at_most};

/// The quarantine directory in the log dir.
pub(super) const QUARANTINE_DIR: &str = "quarantine";

/// The damage known to one log handle.
#[derive(Debug, Default)]
pub(super) struct DamageLog {
    found: Mutex<Vec<LogDamage>>,
    /// The quarantine directory, for the writer's handle only.
    quarantine: Option<PathBuf>,
}

impl DamageLog {
    /// A registry that copies damaged bytes to `quarantine` (the writer's), or not (`None`).
    pub fn new(quarantine: Option<PathBuf>) -> Self {
        Self {
            found: Mutex::new(Vec::new()),
            quarantine,
        }
    }

    /// Records damage found in `segment`; logs and quarantines it the first time.
    pub fn report(&self, segment: &Path, damaged: &Damaged) {
        let mut found = self.found.lock().unwrap_or_else(|e| e.into_inner());
        if found
            .iter()
            .any(|d| d.segment == segment && d.byte_start == damaged.start)
        {
            return;
        }
        let quarantined = self
            .quarantine
            .as_deref()
            .and_then(|dir| quarantine(dir, segment, damaged));
        tracing::error!(
            segment = %segment.display(),
            byte_start = damaged.start,
            byte_end = damaged.end,
            first_lost_offset = damaged.first_lost,
            n_lost = damaged.n_lost,
            exact = damaged.exact,
            reason = %damaged.reason,
            quarantined = quarantined.as_ref().map(|p| p.display().to_string()),
            "event log damage: records lost, reading on after them; run `recd log verify` and `recd log repair`"
        );
        found.push(LogDamage {
            segment: segment.to_path_buf(),
            byte_start: damaged.start,
            byte_end: damaged.end,
            first_lost: damaged.first_lost,
            n_lost: damaged.n_lost,
            exact: damaged.exact,
            reason: damaged.reason.clone(),
            quarantined,
        });
    }

    /// Everything found so far.
    pub fn list(&self) -> Vec<LogDamage> {
        self.found.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Copies the damaged bytes and a description to `dir`; `None` (with an ERROR line) when
/// that fails, since the copy is a courtesy and must not stop reading.
pub(super) fn quarantine(dir: &Path, segment: &Path, damaged: &Damaged) -> Option<PathBuf> {
    let stem = segment
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = dir.join(format!("{stem}-{}.bad", damaged.start));
    if path.exists() {
        return Some(path);
    }
    let copy = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let file = std::fs::File::open(segment)?;
        let mut bytes = vec![0u8; (damaged.end - damaged.start) as usize];
        let n = read_at_most(&file, &mut bytes, damaged.start)?;
        bytes.truncate(n);
        let note = format!(
            "segment: {}\nbytes: {}..{}\nfirst lost offset: {}\nrecords lost: {}{}\nreason: {}\n",
            segment.display(),
            damaged.start,
            damaged.end,
            damaged.first_lost,
            damaged.n_lost,
            if damaged.exact { "" } else { " (estimate)" },
            damaged.reason
        );
        std::fs::write(path.with_extension("txt"), note)?;
        // The bytes last: their presence says the copy is complete.
        std::fs::write(&path, bytes)
    };
    match copy() {
        Ok(()) => Some(path),
        Err(error) => {
            tracing::error!(path = %path.display(), %error, "could not quarantine damaged log bytes");
            None
        }
    }
}
