//! Damaged logs: a bad tail of the last segment is truncated on open (with a warning), and
//! damage anywhere else is reported as `StoreError::Corrupt` on read, never a panic.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use recd_store::{EventLog, FileLog, LogConfig, StoreError};
use recd_types::Record;

use super::{read_all, record, segment_files};

const N_RECORDS: u64 = 12;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1 << 20,
        group_commit_window: Duration::ZERO,
    }
}

/// A log of `N_RECORDS` records, one per append, in one segment. Returns the segment path and
/// its length before and after the last record (the last frame spans `before..after`).
fn log_with_records(dir: &Path) -> (PathBuf, u64, u64) {
    let log = FileLog::open(dir, config()).expect("open");
    for seq in 0..N_RECORDS - 1 {
        log.append(&[record("w", seq)]).expect("append");
    }
    let files = segment_files(dir);
    assert_eq!(files.len(), 1);
    let before = file_len(&files[0]);
    log.append(&[record("w", N_RECORDS - 1)]).expect("append");
    let after = file_len(&files[0]);
    (files[0].clone(), before, after)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("segment metadata").len()
}

/// A `Write` into a shared buffer, to capture what the log reports through `tracing`.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Opens the log with a subscriber attached and returns it with what was logged.
fn open_capturing(dir: &Path) -> (FileLog, String) {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let log = tracing::subscriber::with_default(subscriber, || FileLog::open(dir, config()))
        .expect("reopen");
    let text = String::from_utf8_lossy(&captured.0.lock().expect("capture lock")).into_owned();
    (log, text)
}

/// The checks common to every damaged-tail case: after reopening, the first `n_intact`
/// records are there, the file is cut back to `good_len`, a warning named the file, and
/// appends continue at `n_intact` and survive another reopen.
fn check_recovered(dir: &Path, segment: &Path, n_intact: u64, good_len: u64) {
    let (log, warnings) = open_capturing(dir);
    assert!(
        warnings.contains("WARN") && warnings.contains(&segment.display().to_string()),
        "expected a warning naming {}, got: {warnings:?}",
        segment.display()
    );
    assert_eq!(log.end_offset(), n_intact);
    assert_eq!(
        file_len(segment),
        good_len,
        "the bad tail was not truncated"
    );
    let want: Vec<_> = (0..n_intact).map(|s| (s, record("w", s))).collect();
    assert_eq!(read_all(&log, 0), want);
    let more: Vec<Record> = (100..103).map(|s| record("w", s)).collect();
    assert_eq!(log.append(&more).expect("append after recovery"), n_intact);
    drop(log);
    let log = FileLog::open(dir, config()).expect("reopen again");
    assert_eq!(log.end_offset(), n_intact + 3);
    let tail: Vec<Record> = read_all(&log, n_intact)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    assert_eq!(tail, more);
}

#[test]
fn a_torn_last_frame_is_truncated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (segment, before, after) = log_with_records(dir.path());
    // Every cut inside the last frame, including inside its 8-byte length/crc prefix.
    for cut in [
        before + 1,
        before + 7,
        before + 8,
        (before + after) / 2,
        after - 1,
    ] {
        let copy = tempfile::tempdir().expect("temp dir");
        let copy_segment = copy.path().join(segment.file_name().expect("file name"));
        std::fs::copy(&segment, &copy_segment).expect("copy segment");
        OpenOptions::new()
            .write(true)
            .open(&copy_segment)
            .and_then(|f| f.set_len(cut))
            .expect("truncate");
        check_recovered(copy.path(), &copy_segment, N_RECORDS - 1, before);
    }
}

#[test]
fn a_flipped_byte_in_the_last_frame_is_truncated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (segment, before, after) = log_with_records(dir.path());
    let mut bytes = std::fs::read(&segment).expect("read segment");
    bytes[(after - 3) as usize] ^= 0x01;
    std::fs::write(&segment, bytes).expect("write segment");
    check_recovered(dir.path(), &segment, N_RECORDS - 1, before);
}

#[test]
fn garbage_after_the_last_frame_is_truncated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (segment, _, after) = log_with_records(dir.path());
    let mut file = OpenOptions::new()
        .append(true)
        .open(&segment)
        .expect("open");
    file.write_all(&[0xAB; 37]).expect("append garbage");
    drop(file);
    check_recovered(dir.path(), &segment, N_RECORDS, after);
}

#[test]
fn a_zero_filled_tail_is_truncated() {
    // What a filesystem can leave after a crash: the size was extended, the data never written.
    let dir = tempfile::tempdir().expect("temp dir");
    let (segment, _, after) = log_with_records(dir.path());
    let mut file = OpenOptions::new()
        .append(true)
        .open(&segment)
        .expect("open");
    file.write_all(&[0; 4096]).expect("append zeroes");
    drop(file);
    check_recovered(dir.path(), &segment, N_RECORDS, after);
}

#[test]
fn a_torn_segment_header_is_rewritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let log = FileLog::open(dir.path(), config()).expect("open");
        log.append(&[record("w", 0)]).expect("append");
    }
    // A crash right after a roll created the next segment but before its header was synced.
    let next = dir.path().join(format!("{:020}.log", 1));
    std::fs::write(&next, b"RECD").expect("write torn header");
    let log = FileLog::open(dir.path(), config()).expect("reopen");
    assert_eq!(log.end_offset(), 1);
    assert_eq!(log.append(&[record("w", 1)]).expect("append"), 1);
    let want: Vec<_> = (0..2).map(|s| (s, record("w", s))).collect();
    assert_eq!(read_all(&log, 0), want);
}

#[test]
fn a_foreign_file_in_place_of_the_last_segment_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(FileLog::open(dir.path(), config()).expect("open"));
    let segment = &segment_files(dir.path())[0];
    std::fs::write(segment, vec![b'x'; 100]).expect("overwrite");
    match FileLog::open(dir.path(), config()) {
        Err(StoreError::Corrupt { path, reason }) => {
            assert_eq!(&path, segment);
            assert!(reason.contains("magic"), "{reason}");
        }
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("expected Corrupt, the log opened"),
    }
}

#[test]
fn damage_in_an_older_segment_is_reported_on_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let small = LogConfig {
        segment_bytes: 1000,
        ..config()
    };
    {
        let log = FileLog::open(dir.path(), small.clone()).expect("open");
        for seq in 0..60 {
            log.append(&[record("w", seq)]).expect("append");
        }
    }
    let files = segment_files(dir.path());
    assert!(files.len() >= 4, "{} segments", files.len());
    let damaged = &files[1];
    let mut bytes = std::fs::read(damaged).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(damaged, bytes).expect("write");

    // Open only scans the last segment, so it succeeds; reading through the damage fails.
    let log = FileLog::open(dir.path(), small).expect("reopen");
    assert_eq!(log.end_offset(), 60);
    let results: Vec<_> = log.read_from(0).expect("in range").collect();
    let first_err = results.iter().position(|r| r.is_err()).expect("an error");
    assert_eq!(
        first_err,
        results.len() - 1,
        "the reader must stop at the error"
    );
    match &results[first_err] {
        Err(StoreError::Corrupt { path, reason }) => {
            assert_eq!(path, damaged);
            assert!(reason.contains("at byte"), "{reason}");
        }
        other => panic!("expected Corrupt, got {:?}", other.as_ref().err()),
    }
    // Reading from the segment after the damaged one is unaffected.
    let third_base: u64 = files[2]
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .expect("segment base");
    assert_eq!(read_all(&log, third_base).len() as u64, 60 - third_base);
}

#[test]
fn a_segment_shorter_than_its_successor_says_is_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let small = LogConfig {
        segment_bytes: 1000,
        ..config()
    };
    {
        let log = FileLog::open(dir.path(), small.clone()).expect("open");
        for seq in 0..30 {
            log.append(&[record("w", seq)]).expect("append");
        }
    }
    // Cut the first segment back by one whole frame: no frame is torn, but a record is gone.
    let files = segment_files(dir.path());
    let first = &files[0];
    let n_first: u64 = files[1]
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .expect("segment base");
    let bytes = std::fs::read(first).expect("read");
    let frame_len = {
        // Walk the frames (24-byte segment header, then u32 LE length + u32 crc + payload)
        // to find where the last one starts.
        let mut pos = 24usize;
        let mut last = pos;
        while pos < bytes.len() {
            last = pos;
            let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes"));
            pos += 8 + len as usize;
        }
        bytes.len() - last
    };
    std::fs::write(first, &bytes[..bytes.len() - frame_len]).expect("write");
    let log = FileLog::open(dir.path(), small).expect("reopen");
    let err = log
        .read_from(0)
        .expect("in range")
        .find_map(Result::err)
        .expect("a missing record must be reported");
    match err {
        StoreError::Corrupt { path, reason } => {
            assert_eq!(&path, first);
            assert!(reason.contains(&format!("offset {n_first}")), "{reason}");
        }
        other => panic!("expected Corrupt, got {other}"),
    }
}
