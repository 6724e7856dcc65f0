//! Segment files: naming, listing, creating, and recovering the last one on open.
//!
//! A segment is named by the offset of its first record, zero-padded to 20 digits
//! (`00000000000000000042.log`), so the names sort like the offsets and finding the segment of
//! an offset is a binary search over names. Only the last segment can have a torn tail: a
//! segment is synced before the next one is created, so open scans the last one alone and
//! takes the others' extents from their names (a data dir of 50M records opens in the time
//! it takes to scan one segment).

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::super::Offset;
use super::frame::{self, FrameRead, HEADER_LEN};
use super::index::{IndexBuilder, SparseIndex};
use crate::StoreError;

const SUFFIX: &str = ".log";
const NAME_DIGITS: usize = 20;
/// Read buffer for scanning: large enough that a scan is a few big reads, small enough to
/// not matter per reader.
pub(super) const READ_BUF_BYTES: usize = 256 << 10;

/// One segment file: where it is, the offset of its first record, and its sparse index.
#[derive(Debug, Clone)]
pub(super) struct Segment {
    pub base: Offset,
    pub path: PathBuf,
    pub index: Arc<SparseIndex>,
}

impl Segment {
    fn new(base: Offset, path: PathBuf, index_complete: bool) -> Self {
        Self {
            base,
            path,
            index: Arc::new(SparseIndex::new(base, index_complete)),
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
            Some(base) => segments.push(Segment::new(base, entry.path(), false)),
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
    Ok((Segment::new(base, path, true), file))
}

/// What recovery found in the last segment.
#[derive(Debug)]
pub(super) struct Recovered {
    /// Number of intact records in the segment.
    pub n_records: u64,
    /// Length of the file after recovery (header + intact frames).
    pub len: u64,
    /// The file, opened for appending at `len`.
    pub file: File,
}

/// Scans the last segment, truncates a torn or corrupt tail (with a warning naming the file,
/// the offset, the byte position and the bytes dropped) and opens it for appending.
pub(super) fn recover_last(segment: &Segment) -> Result<Recovered, StoreError> {
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
        segment
            .index
            .install(IndexBuilder::from_start(segment.base).take());
        return Ok(Recovered {
            n_records: 0,
            len: HEADER_LEN,
            file,
        });
    }
    let mut index = IndexBuilder::from_start(segment.base);
    let scan = {
        let mut reader = BufReader::with_capacity(READ_BUF_BYTES, &mut file);
        scan_frames(&mut reader, segment.base, &mut index).map_err(io)?
    };
    segment.index.install(index.take());
    let (n_records, good_len, problem) = (scan.n_records, scan.len, scan.problem);
    if let Some(reason) = problem {
        tracing::warn!(
            path = %path.display(),
            offset = segment.base + n_records,
            byte_pos = good_len,
            dropped_bytes = file_len - good_len,
            reason = %reason,
            "event log had a torn or corrupt tail; truncating it"
        );
        file.set_len(good_len).map_err(io)?;
        file.sync_data().map_err(io)?;
    }
    Ok(Recovered {
        n_records,
        len: good_len,
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
        Ok(()) => Ok(true),
        Err(_) if file_len <= HEADER_LEN => Ok(false),
        Err(reason) => Err(StoreError::Corrupt {
            path: path.clone(),
            reason,
        }),
    }
}

/// What a scan of a segment's frames found.
struct Scan {
    /// Intact frames.
    n_records: u64,
    /// Byte length of the header plus the intact frames.
    len: u64,
    /// What stopped the scan, if it was not a clean end.
    problem: Option<String>,
}

/// Walks the frames from just after the header, checking lengths and CRCs, noting index
/// entries; stops at the end or at the first frame that is torn or bad.
fn scan_frames(
    reader: &mut impl Read,
    base: Offset,
    index: &mut IndexBuilder,
) -> std::io::Result<Scan> {
    let mut payload = Vec::new();
    let mut scan = Scan {
        n_records: 0,
        len: HEADER_LEN,
        problem: None,
    };
    loop {
        index.frame(base + scan.n_records, scan.len);
        match frame::read_frame(reader, &mut payload)? {
            FrameRead::Frame(size) => {
                scan.n_records += 1;
                scan.len += size;
            }
            FrameRead::End => return Ok(scan),
            FrameRead::Torn { have } => {
                scan.problem = Some(format!("torn frame: only {have} bytes of it were written"));
                return Ok(scan);
            }
            FrameRead::Bad(reason) => {
                scan.problem = Some(reason);
                return Ok(scan);
            }
        }
    }
}

/// Builds the sparse index of a segment that has none yet, reading at most `limit` bytes.
/// Damage stops the scan quietly: the index then covers the part before it, and the reader
/// that goes on from there reports the damage with its position.
pub(super) fn build_index(segment: &Segment, limit: u64) -> Result<(), StoreError> {
    let io = |e| StoreError::io(&segment.path, e);
    let mut file = File::open(&segment.path).map_err(io)?;
    file.seek(SeekFrom::Start(HEADER_LEN)).map_err(io)?;
    let mut reader =
        BufReader::with_capacity(READ_BUF_BYTES, file.take(limit.saturating_sub(HEADER_LEN)));
    let mut index = IndexBuilder::from_start(segment.base);
    scan_frames(&mut reader, segment.base, &mut index).map_err(io)?;
    segment.index.install(index.take());
    Ok(())
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
