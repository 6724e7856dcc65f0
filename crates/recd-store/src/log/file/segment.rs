//! Segment files: naming, listing, creating, and recovering the last one on open.
//!
//! A segment is named by the offset of its first record, zero-padded to 20 digits
//! (`00000000000000000042.log`), so the names sort like the offsets and finding the segment of
//! an offset is a binary search over names. Only the last segment can have a torn tail: a
//! segment is synced before the next one is created, so open scans the last one alone and
//! takes the others' extents from their names (a data dir of 50M records opens in the time
//! it takes to scan one segment).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::super::Offset;
use super::durable::Durable;
use super::frame::{self, Format, HEADER_LEN};
use super::index::{IndexBuilder, SparseIndex};
use super::walk::{Damaged, Step, Walker};
use crate::StoreError;

const SUFFIX: &str = ".log";
const NAME_DIGITS: usize = 20;

/// One segment file: where it is, the offset of its first record, and its sparse index.
#[derive(Debug, Clone)]
pub(super) struct Segment {
    pub base: Offset,
    pub path: PathBuf,
    pub index: Arc<SparseIndex>,
}

impl Segment {
    fn new(base: Offset, path: PathBuf) -> Self {
        Self {
            base,
            path,
            index: Arc::new(SparseIndex::new(base, HEADER_LEN)),
        }
    }
}

/// The file name of the segment starting at `base`.
pub(super) fn segment_path(dir: &Path, base: Offset) -> PathBuf {
    dir.join(format!("{base:0NAME_DIGITS$}{SUFFIX}"))
}

/// The base offset encoded in a segment file name, or `None` for any other file.
fn parse_name(name: &str) -> Option<Offset> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segments in `dir`, sorted by base offset. Other files are left alone (and logged at
/// debug level: an operator's notes next to the log are not our business).
pub(super) fn list_segments(dir: &Path) -> Result<Vec<Segment>, StoreError> {
    let io = |e| StoreError::io(dir, e);
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        match name.to_str().and_then(parse_name) {
            Some(base) => segments.push(Segment::new(base, entry.path())),
            None => {
                tracing::debug!(path = %entry.path().display(), "ignoring a non-segment file in the log dir")
            }
        }
    }
    segments.sort_by_key(|s| s.base);
    Ok(segments)
}

/// Fsyncs a directory so that entries created or removed in it survive a crash.
pub(super) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

/// Creates the segment starting at `base`, writes and syncs its header, and syncs the
/// directory, so that the file exists after a crash before any record in it is acknowledged.
/// Refuses to replace an existing file: one with that name would be a segment we know nothing
/// about, and truncating it could destroy data.
pub(super) fn create_segment(dir: &Path, base: Offset) -> Result<(Segment, File), StoreError> {
    let path = segment_path(dir, base);
    let io = |e| StoreError::io(&path, e);
    let mut file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(&path)
        .map_err(io)?;
    file.write_all(&frame::segment_header(base)).map_err(io)?;
    file.sync_data().map_err(io)?;
    sync_dir(dir)?;
    Ok((Segment::new(base, path), file))
}

/// What recovery found in the last segment.
#[derive(Debug)]
pub(super) struct Recovered {
    /// The offset the next record appended gets.
    pub next: Offset,
    /// Length of the file after recovery.
    pub len: u64,
    /// The segment's format (a writer appends only to a segment of the current one).
    pub format: Format,
    /// Damage to acknowledged bytes found in the segment (kept in place, to be reported).
    pub damage: Vec<Damaged>,
    /// The file, opened for appending at `len`.
    pub file: File,
}

/// Walks the last segment, truncates a torn tail (with a warning naming the file, the
/// offset, the byte position and the bytes dropped), and opens it for appending.
///
/// A tail is torn only if it lies past the durable end the writer published (`durable`):
/// those bytes were never acknowledged. Bad bytes within the durable part are damage to
/// acknowledged records: they are kept, walked around, and returned to be reported, and the
/// next offset is never below the published end, so the lost records keep their offsets.
pub(super) fn recover_last(
    segment: &Segment,
    durable: Option<Durable>,
) -> Result<Recovered, StoreError> {
    let path = &segment.path;
    let io = |e| StoreError::io(path, e);
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    if !has_valid_header(&mut file, segment, file_len)? {
        // A crash between creating the file and syncing its header leaves at most a header's
        // worth of bytes; nothing in it was ever acknowledged, so starting it afresh is safe.
        if file_len > 0 {
            tracing::warn!(path = %path.display(), offset = segment.base, dropped_bytes = file_len, "event log segment has a torn header; rewriting it");
        }
        file.set_len(0).map_err(io)?;
        file.write_all(&frame::segment_header(segment.base))
            .map_err(io)?;
        file.sync_data().map_err(io)?;
        segment.index.extend(&[], HEADER_LEN);
        return Ok(Recovered {
            next: segment.base,
            len: HEADER_LEN,
            format: Format::CURRENT,
            damage: Vec::new(),
            file,
        });
    }
    let durable = durable.filter(|d| d.last_base == segment.base);
    let mut walker = Walker::open(path, segment.base, None, durable.map(|d| d.end))?;
    let mut index = IndexBuilder::after(segment.index.last());
    let mut damage = Vec::new();
    loop {
        match walker.step().map_err(io)? {
            Step::Frame { offset, pos, .. } => index.frame(offset, pos),
            Step::Damage(d) => damage.push(d),
            Step::End => break,
        }
    }
    let mut len = file_len;
    let mut next = walker.cursor();
    let torn = damage
        .last()
        .is_some_and(|d| d.to_end && durable.is_none_or(|du| du.last_len <= d.start));
    if torn && let Some(tail) = damage.pop() {
        tracing::warn!(
            path = %path.display(),
            offset = tail.first_lost,
            byte_pos = tail.start,
            dropped_bytes = file_len - tail.start,
            reason = %tail.reason,
            "event log had a torn tail past its durable end; truncating it"
        );
        file.set_len(tail.start).map_err(io)?;
        file.sync_data().map_err(io)?;
        len = tail.start;
        next = tail.first_lost;
    }
    if let Some(d) = durable {
        next = next.max(d.end);
    }
    segment.index.extend(&index.take(), len);
    Ok(Recovered {
        next,
        len,
        format: walker.format(),
        damage,
        file,
    })
}

/// True if the segment starts with a valid header. A missing or partial header in a file no
/// longer than a header is a torn creation (`false`); a bad header followed by more data is
/// not something a crash produces, so it is reported as corruption.
fn has_valid_header(file: &mut File, segment: &Segment, file_len: u64) -> Result<bool, StoreError> {
    let path = &segment.path;
    let mut header = Vec::with_capacity(HEADER_LEN as usize);
    file.seek(SeekFrom::Start(0))
        .and_then(|_| Read::by_ref(file).take(HEADER_LEN).read_to_end(&mut header))
        .map_err(|e| StoreError::io(path, e))?;
    match frame::check_header(&header, segment.base) {
        Ok(_) => Ok(true),
        Err(_) if file_len <= HEADER_LEN => Ok(false),
        Err(reason) => Err(StoreError::Corrupt {
            path: path.clone(),
            reason,
        }),
    }
}

/// Extends the sparse index of `segment` to cover its first `limit` bytes, walking from its
/// last entry. Damage is walked around quietly here: the reader that reads those bytes
/// reports it.
pub(super) fn ensure_index(segment: &Segment, limit: u64) -> Result<(), StoreError> {
    segment.index.ensure(limit, |(offset, pos)| {
        let mut walker = Walker::open(&segment.path, segment.base, Some(limit), None)?;
        walker.seek(offset, pos);
        let mut index = IndexBuilder::after((offset, pos));
        loop {
            match walker.step() {
                Ok(Step::Frame { offset, pos, .. }) => index.frame(offset, pos),
                Ok(Step::Damage(_)) => {}
                Ok(Step::End) => return Ok(index.take()),
                Err(e) => return Err(StoreError::io(&segment.path, e)),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_like_offsets_and_round_trip() {
        let dir = Path::new("/x");
        let a = segment_path(dir, 9);
        let b = segment_path(dir, 10);
        assert!(a < b);
        let name = b.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, "00000000000000000010.log");
        assert_eq!(parse_name(name), Some(10));
        assert_eq!(parse_name(&format!("{}", u64::MAX)), None);
        assert_eq!(parse_name(&format!("{:020}.log", u64::MAX)), Some(u64::MAX));
        for bad in [
            "10.log",
            "0000000000000000001x.log",
            "00000000000000000010.tmp",
            "000000000000000000010.log",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }
}
