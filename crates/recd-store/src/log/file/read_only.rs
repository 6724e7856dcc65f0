//! `ReadOnlyLog`: a handle on a log that another process (or nobody) writes.
//!
//! It takes no lock and writes nothing: not the segments, not `DURABLE`, not the quarantine.
//! Each read takes a view bounded by the durable end the writer published (see `durable`),
//! so it sees a consistent, durable prefix and never a frame being written, and never makes
//! the writer wait. Without a published end (a data dir last written by an older build, or
//! a `DURABLE` file torn by a power loss) it walks the last segment to its last intact frame,
//! which is what the writer's recovery would keep.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use recd_types::Record;

use super::super::{EventLog, LogDamage, LogIter, Offset};
use super::damage::DamageLog;
use super::durable;
use super::frame::HEADER_LEN;
use super::reader::{Reader, View};
use super::segment::{self, Segment};
use super::walk::{Step, Walker};
use crate::StoreError;

/// A read-only handle on the log in a directory.
pub struct ReadOnlyLog {
    dir: PathBuf,
    /// The segments seen so far, kept so their sparse indexes are built once.
    segments: Mutex<Vec<Segment>>,
    /// The end found by walking the last segment when no end is published, keyed by the
    /// segment and its file length, so an unchanged file is walked once.
    walked: Mutex<Option<(Offset, u64, View)>>,
    /// The compaction snapshot's base when the segments were last listed: a new one means
    /// segments were deleted, and the list is refreshed so readers stop looking for them.
    listed_start: Mutex<Offset>,
    damage: Arc<DamageLog>,
}

impl ReadOnlyLog {
    /// Opens the log in `dir`, which must exist.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(StoreError::io(
                &dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no event log here"),
            ));
        }
        let log = Self {
            listed_start: Mutex::new(super::catalog::snapshot_base(&dir)?),
            segments: Mutex::new(segment::list_segments(&dir)?),
            dir,
            walked: Mutex::new(None),
            damage: Arc::new(DamageLog::new(None)),
        };
        log.view()?;
        Ok(log)
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The catalog records below `end` (see [`EventLog::read_catalog`]), and how they were
    /// found.
    pub fn catalog(
        &self,
        end: Offset,
    ) -> Result<(Vec<(Offset, Record)>, super::CatalogReadStats), StoreError> {
        let view = self.view()?;
        super::catalog::read(&self.dir, &view, end, &self.damage)
    }

    /// A view up to the durable end as of now.
    fn view(&self) -> Result<View, StoreError> {
        let mut segments = self.segments.lock().unwrap_or_else(|e| e.into_inner());
        {
            let start = super::catalog::snapshot_base(&self.dir)?;
            let mut listed = self.listed_start.lock().unwrap_or_else(|e| e.into_inner());
            if *listed != start {
                refresh(&self.dir, &mut segments)?;
                *listed = start;
            }
        }
        if let Some(durable) = durable::read(&self.dir) {
            if !segments.iter().any(|s| s.base == durable.last_base) {
                refresh(&self.dir, &mut segments)?;
            }
            let n = segments.partition_point(|s| s.base <= durable.last_base);
            if n > 0 && segments[n - 1].base == durable.last_base {
                return Ok(View {
                    segments: Arc::new(segments[..n].to_vec()),
                    end: durable.end,
                    last_len: durable.last_len,
                });
            }
            tracing::warn!(dir = %self.dir.display(), last_base = durable.last_base, "the published durable end names a segment that is not there; reading what the segments hold");
        }
        refresh(&self.dir, &mut segments)?;
        let Some(last) = segments.last().cloned() else {
            return Ok(View {
                segments: Arc::new(Vec::new()),
                end: 0,
                last_len: HEADER_LEN,
            });
        };
        let file_len = std::fs::metadata(&last.path)
            .map_err(|e| StoreError::io(&last.path, e))?
            .len();
        let mut walked = self.walked.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((base, len, view)) = walked.as_ref()
            && *base == last.base
            && *len == file_len
        {
            return Ok(view.clone());
        }
        let (end, last_len) = walk_to_end(&last)?;
        let view = View {
            segments: Arc::new(segments.clone()),
            end,
            last_len,
        };
        *walked = Some((last.base, file_len, view.clone()));
        Ok(view)
    }
}

/// Lists the segments again, keeping the ones already known (and their indexes).
fn refresh(dir: &Path, segments: &mut Vec<Segment>) -> Result<(), StoreError> {
    let listed = segment::list_segments(dir)?;
    let known = std::mem::take(segments);
    *segments = listed
        .into_iter()
        .map(|new| {
            known
                .iter()
                .find(|old| old.base == new.base)
                .cloned()
                .unwrap_or(new)
        })
        .collect();
    Ok(())
}

/// The end offset and byte length of the intact frames of the last segment, stopping before
/// a damaged tail (which the writer would truncate as torn, having no durable end to say
/// otherwise). A segment with an unreadable header holds nothing yet.
fn walk_to_end(last: &Segment) -> Result<(Offset, u64), StoreError> {
    let mut walker = match Walker::open(&last.path, last.base, None, None) {
        Ok(walker) => walker,
        Err(StoreError::Corrupt { .. }) => return Ok((last.base, HEADER_LEN)),
        Err(e) => return Err(e),
    };
    let (mut end, mut len) = (last.base, HEADER_LEN);
    loop {
        match walker.step().map_err(|e| StoreError::io(&last.path, e))? {
            Step::Frame { offset, pos, size } => {
                end = offset + 1;
                len = pos + size;
            }
            Step::Damage(d) if d.to_end => break,
            Step::Damage(_) => {}
            Step::End => break,
        }
    }
    Ok((end, len))
}

impl EventLog for ReadOnlyLog {
    fn append(&self, _records: &[Record]) -> Result<Offset, StoreError> {
        Err(StoreError::ReadOnly(self.dir.clone()))
    }

    fn end_offset(&self) -> Offset {
        self.view().map(|v| v.end).unwrap_or(0)
    }

    fn read_from(&self, offset: Offset) -> Result<LogIter<'_>, StoreError> {
        let view = self.view()?;
        if offset > view.end {
            return Err(StoreError::OffsetOutOfRange {
                requested: offset,
                end: view.end,
            });
        }
        if view.segments.is_empty() {
            return Ok(Box::new(std::iter::empty()));
        }
        Ok(Box::new(Reader::new(view, offset, self.damage.clone())))
    }

    fn damage(&self) -> Vec<LogDamage> {
        self.damage.list()
    }

    fn read_catalog(&self, end: Offset) -> Result<LogIter<'_>, StoreError> {
        let (records, _) = self.catalog(end)?;
        Ok(Box::new(records.into_iter().map(Ok)))
    }

    fn offset_for_time(&self, ms: recd_types::TimestampMs) -> Offset {
        self.view()
            .map_or(0, |v| super::times::offset_for_time(&v.segments, ms))
    }
}
