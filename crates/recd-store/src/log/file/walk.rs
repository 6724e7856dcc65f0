//! Walking the frames of one segment, resynchronising after damage.
//!
//! Every reader of a segment goes through [`Walker`]: the log's readers, the writer's
//! recovery of the last segment, index building, `verify` and `repair`. It reads through a
//! window buffer with positioned reads, so it can step back after a damaged frame and search
//! the bytes after it for the next frame whose length, CRC and (format 2) offset agree.
//! Damage never stops a walk: it is one [`Step::Damage`] naming the bytes skipped and the
//! offsets lost, and the walk goes on after it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::super::Offset;
use super::frame::{self, Format, HEADER_LEN, Parsed};
use crate::StoreError;

/// Bytes read at a time. Large enough that a walk is a few big reads.
const WINDOW: usize = 256 << 10;
/// The smallest frame of format 2 (prefix and a one-byte payload); bounds how many records
/// a damaged region can have held.
const MIN_FRAME_V2: u64 = 17;
/// Format 1 frames carry no offset, so a resync candidate has less to prove; it must also be
/// no larger than this (real records are a few hundred bytes) and be followed by another
/// valid frame or the end.
const MAX_RESYNC_LEN_V1: u32 = 1 << 20;

/// One step of a walk.
#[derive(Debug)]
pub(super) enum Step {
    /// An intact frame; its payload is [`Walker::payload`] until the next step.
    Frame { offset: Offset, pos: u64, size: u64 },
    /// Damaged bytes were skipped.
    Damage(Damaged),
    /// The end of the readable bytes, at a frame boundary.
    End,
}

/// Bytes of a segment that hold no intact frame, and what was lost with them.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Damaged {
    /// Byte range of the damage in the segment.
    pub start: u64,
    pub end: u64,
    /// The first offset lost, and how many were (an estimate when `exact` is false).
    pub first_lost: Offset,
    pub n_lost: u64,
    pub exact: bool,
    /// No intact frame follows in the readable bytes.
    pub to_end: bool,
    /// What was wrong with the frame at `start`.
    pub reason: String,
}

/// A walk over one segment's frames.
pub(super) struct Walker {
    file: File,
    format: Format,
    limit: u64,
    /// Where the next frame starts and the offset it should have.
    pos: u64,
    cursor: Offset,
    /// The offset the segment's records end at, when known (the next segment's base, or the
    /// durable end for the last one): what a damaged tail lost.
    end_hint: Option<Offset>,
    buf: Vec<u8>,
    buf_start: u64,
    payload: std::ops::Range<usize>,
}

impl Walker {
    /// Opens the segment at `path` starting at `base`, checks its header, and positions the
    /// walk at its first frame. `limit` bounds the bytes read (the file's length if `None`).
    pub fn open(
        path: &Path,
        base: Offset,
        limit: Option<u64>,
        end_hint: Option<Offset>,
    ) -> Result<Self, StoreError> {
        let io = |e| StoreError::io(path, e);
        let file = File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let limit = limit.map_or(file_len, |l| l.min(file_len));
        let mut header = [0u8; HEADER_LEN as usize];
        let got = read_at_most(&file, &mut header, 0).map_err(io)?;
        let format =
            frame::check_header(&header[..got], base).map_err(|reason| StoreError::Corrupt {
                path: path.to_path_buf(),
                reason,
            })?;
        Ok(Self {
            file,
            format,
            limit: limit.max(HEADER_LEN),
            pos: HEADER_LEN,
            cursor: base,
            end_hint,
            buf: Vec::new(),
            buf_start: 0,
            payload: 0..0,
        })
    }

    /// The segment's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Continues the walk at `pos`, where the frame of `offset` starts (an index entry).
    pub fn seek(&mut self, offset: Offset, pos: u64) {
        self.pos = pos.max(HEADER_LEN);
        self.cursor = offset;
    }

    /// The bytes the walk may read (the segment's durable length, or the file's).
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The byte position of the next frame.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// The offset the next frame should have.
    pub fn cursor(&self) -> Offset {
        self.cursor
    }

    /// The payload of the frame the last step returned.
    pub fn payload(&self) -> &[u8] {
        &self.buf[self.payload.clone()]
    }

    /// The next frame, damage, or the end.
    pub fn step(&mut self) -> std::io::Result<Step> {
        if self.pos >= self.limit {
            return Ok(Step::End);
        }
        let start = self.pos;
        match self.parse_at(start)? {
            Parsed::Frame {
                size,
                payload,
                offset,
            } => {
                let offset = offset.unwrap_or(self.cursor);
                if offset < self.cursor {
                    let reason = format!(
                        "the frame says offset {offset}, but offsets before {} were already read",
                        self.cursor
                    );
                    return self.resync(start, reason).map(Step::Damage);
                }
                let base = (start - self.buf_start) as usize;
                self.payload = base + payload.start..base + payload.end;
                self.pos += size as u64;
                self.cursor = offset + 1;
                Ok(Step::Frame {
                    offset,
                    pos: start,
                    size: size as u64,
                })
            }
            Parsed::Short { need } => {
                let have = self.limit - start;
                let reason = format!(
                    "the frame needs {need} bytes but only {have} are there (torn or a damaged length)"
                );
                self.resync(start, reason).map(Step::Damage)
            }
            Parsed::Bad(reason) => self.resync(start, reason).map(Step::Damage),
        }
    }

    /// Parses the frame at `pos`, reading as much as it needs (within the limit).
    fn parse_at(&mut self, pos: u64) -> std::io::Result<Parsed> {
        let format = self.format;
        let mut need = format.prefix_len();
        loop {
            let bytes = self.fill(pos, need)?;
            match frame::parse(format, bytes) {
                // Read more only if the first read got all it asked for: a file that ends
                // before the limit (it shrank under us) must not loop.
                Parsed::Short { need: more }
                    if more > need && bytes.len() >= need && pos + more as u64 <= self.limit =>
                {
                    need = more;
                }
                other => return Ok(other),
            }
        }
    }

    /// The bytes from `pos` on, at least `need` of them when the limit allows.
    fn fill(&mut self, pos: u64, need: usize) -> std::io::Result<&[u8]> {
        let want_end = (pos + need as u64).min(self.limit);
        let have_end = self.buf_start + self.buf.len() as u64;
        if pos < self.buf_start || want_end > have_end {
            let len = (self.limit - pos).min(need.max(WINDOW) as u64) as usize;
            self.buf.resize(len, 0);
            let got = read_at_most(&self.file, &mut self.buf, pos)?;
            self.buf.truncate(got);
            self.buf_start = pos;
        }
        let from = (pos - self.buf_start) as usize;
        Ok(&self.buf[from.min(self.buf.len())..])
    }

    /// Skips the damaged frame at `start`: finds the next intact frame after it (or the end)
    /// and reports what lies between.
    fn resync(&mut self, start: u64, reason: String) -> std::io::Result<Damaged> {
        let first_lost = self.cursor;
        let found = match self.format.frames {
            1 => self.resync_v1(start)?,
            _ => self.resync_v2(start)?,
        };
        let damaged = match found {
            Some((at, next_offset, exact)) => Damaged {
                start,
                end: at,
                first_lost,
                n_lost: next_offset - first_lost,
                exact,
                to_end: false,
                reason,
            },
            None => {
                let end = self.end_hint.unwrap_or(first_lost).max(first_lost);
                Damaged {
                    start,
                    end: self.limit,
                    first_lost,
                    n_lost: end - first_lost,
                    exact: self.end_hint.is_some(),
                    to_end: true,
                    reason,
                }
            }
        };
        self.pos = damaged.end;
        self.cursor = first_lost + damaged.n_lost;
        Ok(damaged)
    }

    /// Format 2: the first position after `start` holding a frame whose offset could follow
    /// the damage (not before the cursor, and not further than the damaged bytes could have
    /// held) and whose CRC, covering length and offset, matches.
    fn resync_v2(&mut self, start: u64) -> std::io::Result<Option<(u64, Offset, bool)>> {
        let prefix = self.format.prefix_len();
        let cursor = self.cursor;
        let limit = self.limit;
        let mut at = start + 1;
        while at + prefix as u64 <= limit {
            let bytes = self.fill(at, prefix)?;
            if bytes.len() < prefix {
                break;
            }
            let max_lost = (at - start).div_ceil(MIN_FRAME_V2);
            let candidate = frame::offset_field(bytes)
                .filter(|&o| o >= cursor && o - cursor <= max_lost)
                .and(frame::plausible_len(bytes))
                .is_some_and(|len| at + (prefix as u64) + u64::from(len) <= limit);
            if candidate
                && let Parsed::Frame { offset, .. } = self.parse_at(at)?
                && let Some(offset) = offset
                && offset >= cursor
            {
                return Ok(Some((at, offset, true)));
            }
            at += 1;
        }
        Ok(None)
    }

    /// Format 1: when the damaged frame's length is intact (damage in its CRC or payload),
    /// the next frame starts right after it and exactly one record was lost. Otherwise the
    /// first position after `start` holding a small intact frame followed by another intact
    /// frame or the end; how many records the damage held is then unknown (counted as one).
    fn resync_v1(&mut self, start: u64) -> std::io::Result<Option<(u64, Offset, bool)>> {
        let prefix = self.format.prefix_len() as u64;
        let one_frame = {
            let bytes = self.fill(start, prefix as usize)?;
            frame::plausible_len(bytes).map(|len| start + prefix + u64::from(len))
        };
        if let Some(next) = one_frame
            && next <= self.limit
            && self.intact_v1(next)?
        {
            return Ok(Some((next, self.cursor + 1, true)));
        }
        let limit = self.limit;
        let mut at = start + 1;
        while at + prefix <= limit {
            let bytes = self.fill(at, prefix as usize)?;
            let candidate = frame::plausible_len(bytes).is_some_and(|len| {
                len <= MAX_RESYNC_LEN_V1 && at + prefix + u64::from(len) <= limit
            });
            if candidate
                && let Parsed::Frame { size, .. } = self.parse_at(at)?
                && self.intact_v1(at + size as u64)?
            {
                return Ok(Some((at, self.cursor + 1, false)));
            }
            at += 1;
        }
        Ok(None)
    }

    /// True if `pos` is the end of the readable bytes or the start of an intact frame.
    fn intact_v1(&mut self, pos: u64) -> std::io::Result<bool> {
        Ok(pos == self.limit || matches!(self.parse_at(pos)?, Parsed::Frame { .. }))
    }
}

/// Reads into `buf` from `pos` until it is full or the file ends; returns the bytes read.
pub(super) fn read_at_most(file: &File, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], pos + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
