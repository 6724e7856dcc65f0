//! Damaged logs: a torn tail past the published durable end is truncated on open (with a
//! warning); damage to acknowledged bytes, in any segment, costs the records whose frames it
//! touches and nothing else: readers resynchronise after it, the lost offsets stay a gap,
//! the damage is reported (ERROR line, `EventLog::damage`) and the writer quarantines it.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use recd_store::{EventLog, FileLog, LogConfig, ReadOnlyLog, StoreError};
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
fn a_flipped_byte_in_the_last_acknowledged_frame_is_damage_not_a_torn_tail() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (segment, _, after) = log_with_records(dir.path());
    let mut bytes = std::fs::read(&segment).expect("read segment");
    bytes[(after - 3) as usize] ^= 0x01;
    std::fs::write(&segment, bytes).expect("write segment");
    let (log, logged) = open_capturing(dir.path());
    assert!(logged.contains("ERROR"), "no ERROR line: {logged:?}");
    assert_eq!(
        file_len(&segment),
        after,
        "acknowledged bytes were truncated"
    );
    assert_eq!(
        log.end_offset(),
        N_RECORDS,
        "the lost record's offset was reused"
    );
    let damage = log.damage();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert_eq!((damage[0].first_lost, damage[0].n_lost), (N_RECORDS - 1, 1));
    assert!(damage[0].quarantined.as_ref().is_some_and(|p| p.exists()));
    let want: Vec<_> = (0..N_RECORDS - 1).map(|s| (s, record("w", s))).collect();
    assert_eq!(read_all(&log, 0), want);
    // Appends go on after the gap, and survive a reopen.
    assert_eq!(log.append(&[record("w", 50)]).expect("append"), N_RECORDS);
    drop(log);
    let log = FileLog::open(dir.path(), config()).expect("reopen again");
    let got = read_all(&log, N_RECORDS - 2);
    assert_eq!(
        got,
        vec![
            (N_RECORDS - 2, record("w", N_RECORDS - 2)),
            (N_RECORDS, record("w", 50))
        ]
    );
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

/// The segment bases of the log in `dir`.
fn bases(dir: &Path) -> Vec<u64> {
    segment_files(dir)
        .iter()
        .map(|f| {
            f.file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse().ok())
                .expect("segment base")
        })
        .collect()
}

/// (offset, start, end) of every frame of a format-2 segment.
fn frames_of(segment: &Path, base: u64) -> Vec<(u64, usize, usize)> {
    let bytes = std::fs::read(segment).expect("read segment");
    let mut pos = 24usize;
    let mut out = Vec::new();
    while pos + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let offset = u64::from_le_bytes(bytes[pos + 8..pos + 16].try_into().expect("8 bytes"));
        assert_eq!(offset, base + out.len() as u64);
        out.push((offset, pos, pos + 16 + len));
        pos += 16 + len;
    }
    out
}

fn small() -> LogConfig {
    LogConfig {
        segment_bytes: 1000,
        ..config()
    }
}

/// A log of `n` records, one per append, in segments of about 1000 bytes.
fn small_segments(dir: &Path, n: u64) {
    let log = FileLog::open(dir, small()).expect("open");
    for seq in 0..n {
        log.append(&[record("w", seq)]).expect("append");
    }
}

#[test]
fn damage_in_an_older_segment_is_skipped_and_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    small_segments(dir.path(), 60);
    let files = segment_files(dir.path());
    assert!(files.len() >= 4, "{} segments", files.len());
    let damaged = &files[1];
    let base = bases(dir.path())[1];
    let mut bytes = std::fs::read(damaged).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(damaged, bytes).expect("write");
    let (lost, _, _) = frames_of(&files[1], base)
        .into_iter()
        .find(|&(_, start, end)| (start..end).contains(&middle))
        .expect("the flip is in a frame");

    // Open walks only the last segment, so it finds nothing; the readers find the damage.
    let log = FileLog::open(dir.path(), small()).expect("reopen");
    assert_eq!(log.end_offset(), 60);
    assert!(log.damage().is_empty());
    let want: Vec<_> = (0..60)
        .filter(|&s| s != lost)
        .map(|s| (s, record("w", s)))
        .collect();
    assert_eq!(read_all(&log, 0), want);
    let damage = log.damage();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert_eq!(&damage[0].segment, damaged);
    assert_eq!((damage[0].first_lost, damage[0].n_lost), (lost, 1));
    assert!(damage[0].quarantined.is_some());
    // A reader in another process sees the same, and writes nothing.
    let reader = ReadOnlyLog::open(dir.path()).expect("read-only");
    assert_eq!(read_all(&reader, 0), want);
    assert_eq!(reader.damage().len(), 1);
    assert!(reader.damage()[0].quarantined.is_none());
}

/// A small deterministic generator, so a failing position can be reproduced.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn a_flipped_bit_anywhere_in_the_frames_costs_exactly_the_record_it_hits() {
    let pristine = tempfile::tempdir().expect("temp dir");
    const N: u64 = 80;
    small_segments(pristine.path(), N);
    let files = segment_files(pristine.path());
    let bases = bases(pristine.path());
    let last = files.len() - 1;
    assert!(last >= 3, "{} segments", files.len());
    let mut rng = Lcg(0x5eed);
    // Half the flips in older segments, half in the last (the one the writer recovers).
    for trial in 0..24 {
        let seg = if trial % 2 == 0 {
            rng.below(last as u64) as usize
        } else {
            last
        };
        let frames = frames_of(&files[seg], bases[seg]);
        let (first_start, last_end) = (frames[0].1, frames[frames.len() - 1].2);
        let pos = first_start + rng.below((last_end - first_start) as u64) as usize;
        let bit = rng.below(8);
        let (lost, _, _) = frames
            .iter()
            .copied()
            .find(|&(_, start, end)| (start..end).contains(&pos))
            .expect("in a frame");

        let copy = tempfile::tempdir().expect("temp dir");
        for entry in std::fs::read_dir(pristine.path()).expect("dir") {
            let entry = entry.expect("entry");
            if entry.file_type().expect("type").is_file() {
                std::fs::copy(entry.path(), copy.path().join(entry.file_name())).expect("copy");
            }
        }
        let target = copy.path().join(files[seg].file_name().expect("name"));
        let mut bytes = std::fs::read(&target).expect("read");
        bytes[pos] ^= 1 << bit;
        std::fs::write(&target, &bytes).expect("write");

        let want: Vec<_> = (0..N)
            .filter(|&s| s != lost)
            .map(|s| (s, record("w", s)))
            .collect();
        let context = format!("segment {seg}, byte {pos}, bit {bit}, frame of offset {lost}");
        // A reader while no writer runs, then the writer, then a reader beside it.
        let reader = ReadOnlyLog::open(copy.path()).expect("read-only");
        assert_eq!(read_all(&reader, 0), want, "{context}");
        let log = FileLog::open(copy.path(), small()).expect(&context);
        assert_eq!(log.end_offset(), N, "{context}");
        assert_eq!(read_all(&log, 0), want, "{context}");
        let damage = log.damage();
        assert_eq!(damage.len(), 1, "{context}: {damage:?}");
        assert_eq!(
            (damage[0].first_lost, damage[0].n_lost),
            (lost, 1),
            "{context}"
        );
        let reader = ReadOnlyLog::open(copy.path()).expect("read-only");
        assert_eq!(read_all(&reader, 0), want, "{context}");
        assert_eq!(
            read_all(&reader, lost).first().map(|r| r.0),
            Some(lost + 1).filter(|&o| o < N),
            "{context}"
        );
        assert_eq!(
            log.append(&[record("w", N)]).expect("append"),
            N,
            "{context}"
        );
    }
}

#[test]
fn a_segment_shorter_than_its_successor_says_is_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    small_segments(dir.path(), 30);
    // Cut the first segment back by one whole frame: no frame is torn, but a record is gone.
    let files = segment_files(dir.path());
    let first = &files[0];
    let n_first = bases(dir.path())[1];
    let frames = frames_of(first, 0);
    let (lost, start, _) = frames[frames.len() - 1];
    assert_eq!(lost, n_first - 1);
    let bytes = std::fs::read(first).expect("read");
    std::fs::write(first, &bytes[..start]).expect("write");
    let log = FileLog::open(dir.path(), small()).expect("reopen");
    let want: Vec<_> = (0..30)
        .filter(|&s| s != lost)
        .map(|s| (s, record("w", s)))
        .collect();
    assert_eq!(read_all(&log, 0), want);
    let damage = log.damage();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert_eq!(&damage[0].segment, first);
    assert_eq!((damage[0].first_lost, damage[0].n_lost), (lost, 1));
}

#[test]
fn verify_finds_the_damage_and_repair_removes_it_keeping_every_offset() {
    let dir = tempfile::tempdir().expect("temp dir");
    small_segments(dir.path(), 60);
    let files = segment_files(dir.path());
    let base = bases(dir.path());
    assert!(files.len() >= 4, "{} segments", files.len());
    // A flipped bit in segment 1, and segment 2 cut back by its last frame.
    let (flipped, start, end) = frames_of(&files[1], base[1])[2];
    let mut bytes = std::fs::read(&files[1]).expect("read");
    bytes[(start + end) / 2] ^= 0x08;
    std::fs::write(&files[1], &bytes).expect("write");
    let frames = frames_of(&files[2], base[2]);
    let (cut, cut_at, _) = frames[frames.len() - 1];
    let bytes = std::fs::read(&files[2]).expect("read");
    std::fs::write(&files[2], &bytes[..cut_at]).expect("write");
    let lost = [flipped, cut];

    let report = recd_store::verify(dir.path()).expect("verify");
    assert_eq!(report.end, 60);
    assert_eq!(report.n_records, 58);
    let found: Vec<_> = report
        .damage
        .iter()
        .map(|d| (d.first_lost, d.n_lost))
        .collect();
    assert_eq!(found, vec![(flipped, 1), (cut, 1)]);

    // Repair needs the writer's lock.
    let writer = FileLog::open(dir.path(), small()).expect("open");
    assert!(
        recd_store::repair(dir.path()).is_err(),
        "repair ran beside a writer"
    );
    drop(writer);
    let repaired = recd_store::repair(dir.path()).expect("repair");
    assert_eq!(repaired.n_rewritten, 2);
    assert!(
        repaired
            .damage
            .iter()
            .all(|d| d.quarantined.as_ref().is_some_and(|q| q.exists()))
    );

    let report = recd_store::verify(dir.path()).expect("verify again");
    assert!(report.damage.is_empty(), "{:?}", report.damage);
    assert_eq!(report.n_records, 58);
    let want: Vec<_> = (0..60)
        .filter(|s| !lost.contains(s))
        .map(|s| (s, record("w", s)))
        .collect();
    let log = FileLog::open(dir.path(), small()).expect("open after repair");
    assert_eq!(read_all(&log, 0), want);
    assert!(log.damage().is_empty());
    assert_eq!(log.append(&[record("w", 60)]).expect("append"), 60);
    assert_eq!(read_all(&log, cut).first().map(|r| r.0), Some(cut + 1));
}
