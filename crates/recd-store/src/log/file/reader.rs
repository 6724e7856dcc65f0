//! Reading the log from an offset: an iterator over segments, bounded by a snapshot.
//!
//! A reader works from a [`View`] taken when it was created: the segment list, the durable end
//! offset and the durable length of the last segment. It never reads past that length, so it
//! cannot see a frame the writer is in the middle of writing, and it stops at the end offset
//! even if more is appended meanwhile (the trait promises "to the end as of this call").
//!
//! Starting in the middle of a segment seeks to the nearest entry of the segment's sparse
//! index (see `index`) and skips the frames from there, checking their CRCs but not decoding
//! them: at most ~64 KiB of reading, however large the segment.
//!
//! Damaged bytes do not stop a reader: the walk resynchronises on the next intact frame,
//! the reader reports the damage to its handle's [`DamageLog`] and goes on; the records lost
//! leave a gap in the offsets.

use std::sync::Arc;

use recd_types::Record;

use super::super::Offset;
use super::damage::DamageLog;
use super::frame;
use super::segment::{self, Segment};
use super::walk::{Damaged, Step, Walker};
use crate::StoreError;

/// What readers may see: the segments and how far the durable data goes.
#[derive(Debug, Clone)]
pub(super) struct View {
    /// All segments, by base offset; the last one is the active one.
    pub segments: Arc<Vec<Segment>>,
    /// One past the last durable record.
    pub end: Offset,
    /// Durable length in bytes of the last segment; readers never read past it, so they never
    /// see bytes the writer is in the middle of writing.
    pub last_len: u64,
}

/// Iterates records from an offset to the end of a [`View`].
pub(super) struct Reader {
    view: View,
    damage: Arc<DamageLog>,
    /// Index in `view.segments` of the segment being walked.
    seg_idx: usize,
    walker: Option<Walker>,
    /// Next offset to yield (or the first after it that exists).
    next: Offset,
    /// Set after an error: a log that cannot be read is reported once, not skipped over.
    failed: bool,
    /// Yield only catalog records: event frames are skipped by their first payload byte,
    /// CRC-checked but not decoded.
    catalog_only: bool,
}

impl Reader {
    /// A reader from `offset`, which must be within `..=view.end`.
    pub fn new(view: View, offset: Offset, damage: Arc<DamageLog>) -> Self {
        // The segment holding `offset` is the last one whose base is not after it.
        let seg_idx = view
            .segments
            .partition_point(|s| s.base <= offset)
            .saturating_sub(1);
        Self {
            view,
            damage,
            seg_idx,
            walker: None,
            next: offset,
            failed: false,
            catalog_only: false,
        }
    }

    /// The same reader, yielding only the catalog records (see `catalog`).
    pub fn catalog_only(mut self) -> Self {
        self.catalog_only = true;
        self
    }

    fn segment(&self) -> &Segment {
        &self.view.segments[self.seg_idx]
    }

    fn corrupt(&self, pos: u64, offset: Offset, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            path: self.segment().path.clone(),
            reason: format!("at byte {pos} (offset {offset}): {reason}"),
        }
    }

    /// Opens the current segment, positioned at the index entry nearest before `self.next`
    /// (extending the segment's index first if it does not reach there). The last segment is
    /// read only up to its durable length.
    fn open_segment(&mut self) -> Result<Walker, StoreError> {
        let segment = self.segment().clone();
        let is_last = self.seg_idx + 1 == self.view.segments.len();
        let (limit, end_hint) = if is_last {
            (Some(self.view.last_len), self.view.end)
        } else {
            (None, self.view.segments[self.seg_idx + 1].base)
        };
        let mut walker = Walker::open(&segment.path, segment.base, limit, Some(end_hint))?;
        if self.next > segment.base {
            let limit = walker.limit();
            segment::ensure_index(&segment, limit)?;
            let (offset, pos) = segment.index.seek_point(self.next);
            if pos <= limit {
                walker.seek(offset, pos);
            }
        }
        Ok(walker)
    }

    /// Moves on at the end of a segment; `false` at the end of the last one. A next segment
    /// that starts before this one's records end means two files claim the same offsets (an
    /// error); one that starts after them means records are missing (bytes cut off the end
    /// of this segment), reported as damage.
    fn next_segment(&mut self, cursor: Offset, pos: u64) -> Result<bool, StoreError> {
        let Some(following) = self.view.segments.get(self.seg_idx + 1) else {
            return Ok(false);
        };
        if following.base > cursor {
            let damaged = Damaged {
                start: pos,
                end: pos,
                first_lost: cursor,
                n_lost: following.base - cursor,
                exact: true,
                to_end: true,
                reason: format!(
                    "the segment ends at offset {cursor} but the next one starts at offset {}",
                    following.base
                ),
            };
            self.damage.report(&self.segment().path, &damaged);
        }
        if following.base < cursor {
            return Err(self.corrupt(
                pos,
                cursor,
                format!(
                    "the segment holds records up to offset {cursor} but the next one starts at offset {}",
                    following.base
                ),
            ));
        }
        self.seg_idx += 1;
        self.walker = None;
        Ok(true)
    }

    /// Whether `error`, from opening the current segment, is that compaction deleted it
    /// after this reader's view was taken: the file is gone and the snapshot's base is past
    /// it. Then the reader moves on to the next segment, whose records are all still there.
    /// Any other missing segment stays an error.
    fn compacted_away(&mut self, error: &StoreError) -> Result<bool, StoreError> {
        let StoreError::Io { source, .. } = error else {
            return Ok(false);
        };
        let Some(following) = self.view.segments.get(self.seg_idx + 1).map(|s| s.base) else {
            return Ok(false);
        };
        let path = self.segment().path.clone();
        let Some(dir) = path.parent() else {
            return Ok(false);
        };
        if source.kind() != std::io::ErrorKind::NotFound
            || super::catalog::snapshot_base(dir)? < following
        {
            return Ok(false);
        }
        tracing::warn!(
            segment = %path.display(),
            from = self.next,
            to = following,
            "records were compacted away while being read; going on after them"
        );
        self.next = self.next.max(following);
        self.seg_idx += 1;
        Ok(true)
    }

    /// The next record, or `None` at the end of the view.
    fn step(&mut self) -> Result<Option<(Offset, Record)>, StoreError> {
        while self.next < self.view.end {
            let mut walker = match self.walker.take() {
                Some(walker) => walker,
                None => match self.open_segment() {
                    Ok(walker) => walker,
                    Err(e) if self.compacted_away(&e)? => continue,
                    Err(e) => return Err(e),
                },
            };
            let step = walker
                .step()
                .map_err(|e| StoreError::io(&self.segment().path, e))?;
            match step {
                Step::Frame { offset, pos, .. } => {
                    if offset >= self.next
                        && self.catalog_only
                        && frame::skips_catalog(walker.format().schema, walker.payload())
                    {
                        self.next = offset + 1;
                    } else if offset >= self.next {
                        let schema = walker.format().schema;
                        let record = frame::decode_record(schema, walker.payload())
                            .map_err(|r| self.corrupt(pos, offset, r))?;
                        self.next = offset + 1;
                        self.walker = Some(walker);
                        return Ok(Some((offset, record)));
                    }
                    self.walker = Some(walker);
                }
                Step::Damage(damaged) => {
                    self.damage.report(&self.segment().path, &damaged);
                    self.walker = Some(walker);
                }
                Step::End => {
                    if !self.next_segment(walker.cursor(), walker.pos())? {
                        break;
                    }
                }
            }
        }
        Ok(None)
    }
}

impl Iterator for Reader {
    type Item = Result<(Offset, Record), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(item) => item.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
