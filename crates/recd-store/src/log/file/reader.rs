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

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use recd_types::Record;

use super::super::Offset;
use super::frame::{self, FrameRead, HEADER_LEN};
use super::segment::{self, READ_BUF_BYTES, Segment};
use super::writer::View;
use crate::StoreError;

/// Iterates records from an offset to the end of a [`View`].
pub(super) struct Reader {
    view: View,
    /// Index in `view.segments` of the open segment.
    seg_idx: usize,
    /// The open segment, positioned at the frame for `cursor`.
    file: Option<BufReader<std::io::Take<File>>>,
    /// Offset of the next frame in the open segment.
    cursor: Offset,
    /// Byte position of that frame in the segment (for error messages).
    pos: u64,
    /// Next offset to yield.
    next: Offset,
    payload: Vec<u8>,
    /// Set after an error: a damaged log is reported once, not skipped over.
    failed: bool,
}

impl Reader {
    /// A reader from `offset`, which must be within `..=view.end`.
    pub fn new(view: View, offset: Offset) -> Self {
        // The segment holding `offset` is the last one whose base is not after it.
        let seg_idx = view
            .segments
            .partition_point(|s| s.base <= offset)
            .saturating_sub(1);
        Self {
            view,
            seg_idx,
            file: None,
            cursor: 0,
            pos: 0,
            next: offset,
            payload: Vec::new(),
            failed: false,
        }
    }

    fn segment(&self) -> &Segment {
        &self.view.segments[self.seg_idx]
    }

    fn corrupt(&self, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            path: self.segment().path.clone(),
            reason: format!("at byte {} (offset {}): {reason}", self.pos, self.cursor),
        }
    }

    /// Opens the current segment, checks its header, and positions it at the index entry
    /// nearest before `self.next` (building the segment's index first if it has none). The
    /// last segment is read only up to its durable length.
    fn open_segment(&mut self) -> Result<(), StoreError> {
        let segment = self.segment().clone();
        let io = |e| StoreError::io(&segment.path, e);
        let is_last = self.seg_idx + 1 == self.view.segments.len();
        let limit = if is_last {
            self.view.last_len
        } else {
            u64::MAX
        };
        let mut file = File::open(&segment.path).map_err(io)?;
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        Read::by_ref(&mut file)
            .take(HEADER_LEN)
            .read_to_end(&mut header)
            .map_err(io)?;
        self.cursor = segment.base;
        self.pos = 0;
        frame::check_header(&header, segment.base).map_err(|reason| self.corrupt(reason))?;
        self.pos = HEADER_LEN;
        if self.next > segment.base {
            if !segment.index.is_complete() {
                segment::build_index(&segment, limit)?;
            }
            let (offset, pos) = segment.index.seek_point(self.next);
            if pos > HEADER_LEN && pos <= limit {
                file.seek(SeekFrom::Start(pos)).map_err(io)?;
                self.cursor = offset;
                self.pos = pos;
            }
        }
        let left = limit.saturating_sub(self.pos);
        self.file = Some(BufReader::with_capacity(READ_BUF_BYTES, file.take(left)));
        Ok(())
    }

    /// Moves on at the end of a segment, checking that it held exactly the records up to the
    /// next segment's base (a short segment means records are missing).
    fn next_segment(&mut self) -> Result<(), StoreError> {
        let Some(following) = self.view.segments.get(self.seg_idx + 1) else {
            return Err(self.corrupt(format!(
                "the log ends here but should hold records up to offset {}",
                self.view.end
            )));
        };
        if following.base != self.cursor {
            return Err(self.corrupt(format!(
                "the segment ends here but the next one starts at offset {}",
                following.base
            )));
        }
        self.seg_idx += 1;
        self.file = None;
        Ok(())
    }

    /// The next record, or `None` at the end of the view.
    fn step(&mut self) -> Result<Option<(Offset, Record)>, StoreError> {
        while self.next < self.view.end {
            if self.file.is_none() {
                self.open_segment()?;
            }
            let Some(file) = self.file.as_mut() else {
                continue;
            };
            let read = frame::read_frame(file, &mut self.payload)
                .map_err(|e| StoreError::io(&self.view.segments[self.seg_idx].path, e))?;
            match read {
                FrameRead::Frame(size) => {
                    let offset = self.cursor;
                    let record = if offset == self.next {
                        Some(frame::decode_record(&self.payload).map_err(|r| self.corrupt(r))?)
                    } else {
                        None
                    };
                    self.cursor += 1;
                    self.pos += size;
                    if let Some(record) = record {
                        self.next += 1;
                        return Ok(Some((offset, record)));
                    }
                }
                FrameRead::End => self.next_segment()?,
                FrameRead::Torn { have } => {
                    return Err(self.corrupt(format!(
                        "the segment ends inside a frame ({have} bytes of it)"
                    )));
                }
                FrameRead::Bad(reason) => return Err(self.corrupt(reason)),
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
