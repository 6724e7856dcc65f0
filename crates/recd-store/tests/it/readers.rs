//! Read-only handles beside a writer: they take no lock, see only durable records, always a
//! contiguous prefix with the right contents, and never disturb the writer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use recd_store::{EventLog, FileLog, LogConfig, ReadOnlyLog};

use super::{read_all, record};

#[test]
fn readers_beside_a_writer_see_a_growing_durable_prefix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        segment_bytes: 16 << 10,
        group_commit_window: Duration::ZERO,
    };
    let log = Arc::new(FileLog::open(dir.path(), config).expect("open"));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (log, done) = (log.clone(), done.clone());
        std::thread::spawn(move || {
            let mut seq = 0;
            while seq < 3_000 {
                let batch: Vec<_> = (seq..seq + 7).map(|s| record("w", s)).collect();
                assert_eq!(log.append(&batch).expect("append"), seq);
                seq += 7;
            }
            done.store(true, Ordering::Release);
            seq
        })
    };
    let reader = ReadOnlyLog::open(dir.path()).expect("read-only beside the writer");
    let mut last_end = 0;
    let mut n_reads = 0;
    while !done.load(Ordering::Acquire) || n_reads < 3 {
        let end = reader.end_offset();
        assert!(
            end >= last_end,
            "the end went back from {last_end} to {end}"
        );
        let from = end.saturating_sub(100);
        let got = read_all(&reader, from);
        // At least what the end said (more may have become durable since).
        assert!(
            got.len() as u64 >= end - from,
            "{} < {}",
            got.len(),
            end - from
        );
        for (i, (offset, rec)) in got.iter().enumerate() {
            assert_eq!(*offset, from + i as u64);
            assert_eq!(rec, &record("w", *offset));
        }
        last_end = end;
        n_reads += 1;
    }
    let n = writer.join().expect("writer");
    assert_eq!(reader.end_offset(), n);
    assert_eq!(read_all(&reader, 0).len() as u64, n);
    assert!(
        reader.append(&[record("r", 0)]).is_err(),
        "a reader appended"
    );
    // A second reader while the writer is still open, and one after it is gone.
    assert_eq!(
        read_all(&ReadOnlyLog::open(dir.path()).expect("reader"), 0).len() as u64,
        n
    );
    drop(log);
    assert_eq!(
        read_all(&ReadOnlyLog::open(dir.path()).expect("reader"), 0).len() as u64,
        n
    );
}

#[test]
fn without_a_published_end_a_reader_stops_before_a_torn_tail() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let log = FileLog::open(dir.path(), LogConfig::default()).expect("open");
        for seq in 0..10 {
            log.append(&[record("w", seq)]).expect("append");
        }
    }
    // An older build's data dir: no DURABLE; and a crash left half a frame.
    std::fs::remove_file(dir.path().join("DURABLE")).expect("remove DURABLE");
    let segment = super::segment_files(dir.path()).remove(0);
    let before = std::fs::read(&segment).expect("read");
    let mut torn = before.clone();
    torn.extend_from_slice(&[7, 0, 0, 0, 1, 2]);
    std::fs::write(&segment, &torn).expect("write");
    let reader = ReadOnlyLog::open(dir.path()).expect("reader");
    assert_eq!(reader.end_offset(), 10);
    assert_eq!(read_all(&reader, 0).len(), 10);
    assert!(reader.damage().is_empty());
    assert_eq!(
        std::fs::read(&segment).expect("read"),
        torn,
        "a reader wrote"
    );
}

#[test]
fn closed_segments_carry_their_time_range_and_old_ones_are_skipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        segment_bytes: 1000,
        group_commit_window: Duration::ZERO,
    };
    // record(_, seq) is stamped 1_700_000_000_000 + seq.
    let t = |seq: u64| 1_700_000_000_000 + seq as i64;
    {
        let log = FileLog::open(dir.path(), config.clone()).expect("open");
        for seq in 0..60 {
            log.append(&[record("w", seq)]).expect("append");
        }
        assert_eq!(log.offset_for_time(0), 0);
        let from = log.offset_for_time(t(40));
        assert!(from > 0 && from <= 40, "{from}");
        // Every record at or after the time is at or after the offset.
        assert!(
            read_all(&log, 0)
                .iter()
                .all(|(o, r)| r.timestamp_ms() < t(40) || *o >= from)
        );
        let reader = ReadOnlyLog::open(dir.path()).expect("reader");
        assert_eq!(reader.offset_for_time(t(40)), from);
    }
    // The segment resumed after a reopen was not seen whole: it is never skipped.
    let log = FileLog::open(dir.path(), config).expect("reopen");
    let resumed = log.offset_for_time(i64::MAX);
    for seq in 60..120 {
        log.append(&[record("w", seq)]).expect("append");
    }
    assert!(
        log.offset_for_time(t(100)) <= resumed,
        "the resumed segment was skipped"
    );
}
