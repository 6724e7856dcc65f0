//! Unit tests of `FileLog`: round trips, concurrent appenders, rolling, reopening, bounds,
//! and the writer's refusal to go on after a failed write.

use std::sync::Arc;

use recd_types::{Event, EventKind, ItemId, UserId};

use super::*;

/// A record that encodes who wrote it (`writer`) and its sequence number, so any record read
/// back can be checked against what must be at that offset.
fn record(writer: u32, seq: u64) -> Record {
    let mut event = Event::new(
        UserId::parse(format!("user-{writer}")).expect("valid id"),
        Some(ItemId::parse(format!("item-{seq}")).expect("valid id")),
        EventKind::View,
        1_700_000_000_000 + seq as i64,
    );
    event.session_id = Some(format!("s-{writer}-{}", seq / 10));
    event.context.page = Some("item_page".into());
    Record::Event(event)
}

fn records(writer: u32, seqs: std::ops::Range<u64>) -> Vec<Record> {
    seqs.map(|s| record(writer, s)).collect()
}

fn config(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        group_commit_window: Duration::ZERO,
    }
}

fn read_all(log: &FileLog, from: Offset) -> Vec<(Offset, Record)> {
    log.read_from(from)
        .expect("offset in range")
        .collect::<Result<_, _>>()
        .expect("log reads back cleanly")
}

/// Appends `n` records one call at a time; checks and returns nothing.
fn append_each(log: &FileLog, writer: u32, seqs: std::ops::Range<u64>) {
    for seq in seqs {
        log.append(&[record(writer, seq)]).expect("append");
    }
}

fn n_segments(dir: &Path) -> usize {
    segment::list_segments(dir).expect("list").len()
}

#[test]
fn appended_records_read_back_in_order_with_their_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.end_offset(), 0);
    assert_eq!(log.append(&records(0, 0..3)).unwrap(), 0);
    assert_eq!(log.append(&records(0, 3..4)).unwrap(), 3);
    assert_eq!(log.end_offset(), 4);
    let got = read_all(&log, 0);
    let want: Vec<_> = (0..4).map(|s| (s, record(0, s))).collect();
    assert_eq!(got, want);
    assert_eq!(read_all(&log, 2), want[2..].to_vec());
}

#[test]
fn empty_appends_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), LogConfig::default()).unwrap();
    log.append(&records(0, 0..2)).unwrap();
    assert_eq!(log.append(&[]).unwrap(), 2);
    assert_eq!(log.end_offset(), 2);
    assert_eq!(log.stats().n_groups, 1);
}

#[test]
fn reading_at_the_end_yields_nothing_and_past_it_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(read_all(&log, 0), vec![]);
    log.append(&records(0, 0..5)).unwrap();
    assert_eq!(read_all(&log, 5), vec![]);
    match log.read_from(6) {
        Err(StoreError::OffsetOutOfRange { requested, end }) => {
            assert_eq!((requested, end), (6, 5))
        }
        Err(e) => panic!("expected OffsetOutOfRange, got {e}"),
        Ok(_) => panic!("expected OffsetOutOfRange, got an iterator"),
    }
}

#[test]
fn a_reader_stops_at_the_end_as_of_its_creation() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), config(4096)).unwrap();
    log.append(&records(0, 0..10)).unwrap();
    let reader = log.read_from(0).unwrap();
    append_each(&log, 1, 0..100);
    assert_eq!(reader.count(), 10);
    assert_eq!(read_all(&log, 0).len(), 110);
}

#[test]
fn concurrent_appenders_get_contiguous_offsets_holding_their_records() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(FileLog::open(dir.path(), config(64 << 10)).unwrap());
    let n_threads = 8;
    let n_calls = 60;
    let handles: Vec<_> = (0..n_threads)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut acks = Vec::new();
                let mut seq = 0;
                for call in 0..n_calls {
                    let n = 1 + (call * 7 + t as u64) % 13;
                    let first = log.append(&records(t, seq..seq + n)).unwrap();
                    acks.push((first, seq, n));
                    seq += n;
                }
                (t, acks)
            })
        })
        .collect();
    let all: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let got = read_all(&log, 0);
    // Offsets are 0..end without gaps, and every acknowledged record is where we were told.
    assert!(got.iter().enumerate().all(|(i, (o, _))| *o == i as u64));
    let mut total = 0;
    for (t, acks) in all {
        for (first, seq, n) in acks {
            for k in 0..n {
                assert_eq!(got[(first + k) as usize].1, record(t, seq + k));
            }
            total += n;
        }
    }
    assert_eq!(total, log.end_offset());
    assert_eq!(got.len() as u64, total);
    // Group commit did group: fewer syncs than appends (8 threads racing for one writer).
    assert!(log.stats().n_groups < (n_threads as u64) * n_calls);
    assert!(
        n_segments(dir.path()) > 1,
        "expected the 64 KiB segments to roll"
    );
}

#[test]
fn async_appends_resolve_in_order_without_blocking_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), config(4096)).unwrap();
    let pending: Vec<_> = (0..50u64)
        .map(|s| log.append_async(&records(0, s * 2..s * 2 + 2)))
        .collect();
    let firsts: Vec<_> = pending.into_iter().map(|p| p.wait().unwrap()).collect();
    assert_eq!(firsts, (0..50).map(|s| s * 2).collect::<Vec<_>>());
    let want: Vec<_> = (0..100).map(|s| (s, record(0, s))).collect();
    assert_eq!(read_all(&log, 0), want);
}

#[test]
fn small_segments_roll_and_reads_start_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), config(600)).unwrap();
    for s in (0..200).step_by(4) {
        log.append(&records(7, s..s + 4)).unwrap();
    }
    let segments = segment::list_segments(dir.path()).unwrap();
    assert!(segments.len() > 20, "{} segments", segments.len());
    for pair in segments.windows(2) {
        let len = std::fs::metadata(&pair[0].path).unwrap().len();
        assert!(
            len <= 600,
            "segment {} is {len} bytes",
            pair[0].path.display()
        );
    }
    // From every offset, including each segment's first and last record.
    for from in 0..=200 {
        let got = read_all(&log, from);
        assert_eq!(got.len() as u64, 200 - from, "from {from}");
        for (o, r) in got {
            assert_eq!(r, record(7, o), "from {from}");
        }
    }
}

#[test]
fn an_append_larger_than_a_segment_gets_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), config(300)).unwrap();
    log.append(&records(0, 0..1)).unwrap();
    log.append(&records(0, 1..21)).unwrap();
    log.append(&records(0, 21..22)).unwrap();
    assert_eq!(n_segments(dir.path()), 3);
    let bases: Vec<_> = segment::list_segments(dir.path())
        .unwrap()
        .iter()
        .map(|s| s.base)
        .collect();
    assert_eq!(bases, vec![0, 1, 21]);
    assert_eq!(read_all(&log, 0).len(), 22);
}

#[test]
fn reopening_continues_at_the_right_offset() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = FileLog::open(dir.path(), config(1000)).unwrap();
        append_each(&log, 0, 0..30);
    }
    let log = FileLog::open(dir.path(), config(1000)).unwrap();
    assert_eq!(log.end_offset(), 30);
    assert_eq!(log.append(&records(0, 30..35)).unwrap(), 30);
    drop(log);
    let log = FileLog::open(dir.path(), config(1000)).unwrap();
    assert_eq!(log.end_offset(), 35);
    let want: Vec<_> = (0..35).map(|s| (s, record(0, s))).collect();
    assert_eq!(read_all(&log, 0), want);
}

#[test]
fn drop_writes_everything_already_queued() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(
        dir.path(),
        LogConfig {
            segment_bytes: 1 << 20,
            group_commit_window: Duration::from_millis(5),
        },
    )
    .unwrap();
    let pending: Vec<_> = (0..20)
        .map(|s| log.append_async(&records(0, s..s + 1)))
        .collect();
    drop(log);
    for (s, p) in pending.into_iter().enumerate() {
        assert_eq!(p.wait().unwrap(), s as u64);
    }
    let log = FileLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.end_offset(), 20);
}

#[test]
fn a_log_whose_first_segments_are_missing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = FileLog::open(dir.path(), config(300)).unwrap();
        append_each(&log, 0, 0..10);
    }
    std::fs::remove_file(segment::segment_path(dir.path(), 0)).unwrap();
    match FileLog::open(dir.path(), config(300)) {
        Err(StoreError::Corrupt { reason, .. }) => assert!(reason.contains("missing"), "{reason}"),
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("expected Corrupt, the log opened"),
    }
}

#[test]
fn a_failed_roll_fails_its_group_and_closes_the_log() {
    // The writer creates the next segment with `create_new`; a file already at that name makes
    // the roll fail, which stands in for a disk error without needing a broken disk.
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), config(300)).unwrap();
    log.append(&records(0, 0..1)).unwrap();
    // Wherever the first roll happens, a file is in its way.
    let blockers: Vec<_> = (1..10)
        .map(|base| segment::segment_path(dir.path(), base))
        .collect();
    for path in &blockers {
        std::fs::write(path, b"in the way").unwrap();
    }
    let mut acked = 1;
    let err = loop {
        match log.append(&records(0, acked..acked + 1)) {
            Ok(offset) => {
                assert_eq!(offset, acked);
                acked += 1;
            }
            Err(e) => break e,
        }
        assert!(acked < 9, "the roll never happened");
    };
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
    assert!(matches!(
        log.append(&records(0, 99..100)),
        Err(StoreError::Closed(_))
    ));
    assert!(matches!(
        log.append_async(&records(0, 99..100)).wait(),
        Err(StoreError::Closed(_))
    ));
    assert_eq!(log.end_offset(), acked);
    drop(log);
    for path in &blockers {
        std::fs::remove_file(path).unwrap();
    }
    let log = FileLog::open(dir.path(), config(300)).unwrap();
    assert_eq!(log.end_offset(), acked);
    assert_eq!(log.append(&records(0, acked..acked + 1)).unwrap(), acked);
    let want: Vec<_> = (0..=acked).map(|s| (s, record(0, s))).collect();
    assert_eq!(read_all(&log, 0), want);
}

/// Entries in the sparse index of each segment of the log's current view.
fn index_sizes(log: &FileLog) -> Vec<usize> {
    log.shared
        .view()
        .segments
        .iter()
        .map(|s| s.index.len())
        .collect()
}

#[test]
fn reads_from_the_middle_of_large_segments_use_the_index_and_agree_with_a_full_scan() {
    let dir = tempfile::tempdir().unwrap();
    let n = 30_000u64;
    let check = |log: &FileLog| {
        let all = read_all(log, 0);
        assert_eq!(all.len() as u64, n);
        for from in [
            1, 617, 9_999, 10_000, 12_345, 20_001, 29_998, 29_999, 30_000,
        ] {
            let got = read_all(log, from);
            assert_eq!(got, all[from as usize..].to_vec(), "from {from}");
        }
    };
    {
        let log = FileLog::open(dir.path(), config(600 << 10)).unwrap();
        for s in (0..n).step_by(100) {
            log.append(&records(3, s..s + 100)).unwrap();
        }
        // The writer indexed what it wrote: several entries in every full segment.
        let sizes = index_sizes(&log);
        assert!(sizes.len() >= 3, "{sizes:?}");
        assert!(sizes.iter().all(|&k| k > 3), "{sizes:?}");
        check(&log);
    }
    // After a reopen, the last segment is indexed by recovery and older ones on first read.
    let log = FileLog::open(dir.path(), config(600 << 10)).unwrap();
    let sizes = index_sizes(&log);
    assert_eq!(sizes[0], 1, "older segments start unindexed: {sizes:?}");
    assert!(*sizes.last().unwrap() > 3, "{sizes:?}");
    check(&log);
    let sizes = index_sizes(&log);
    assert!(sizes.iter().all(|&k| k > 3), "{sizes:?}");
}

#[test]
fn a_second_handle_on_the_same_dir_is_refused_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), LogConfig::default()).unwrap();
    match FileLog::open(dir.path(), LogConfig::default()) {
        Err(StoreError::Io { path, source }) => {
            assert!(path.ends_with("LOCK"), "{}", path.display());
            assert!(source.to_string().contains("already open"), "{source}");
        }
        Err(e) => panic!("expected an Io error on LOCK, got {e}"),
        Ok(_) => panic!("two handles opened the same log"),
    }
    drop(log);
    FileLog::open(dir.path(), LogConfig::default()).unwrap();
}

#[test]
fn when_a_roll_fails_mid_group_the_part_already_synced_is_still_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    // A long window so that all ten appends below form one group.
    let log = FileLog::open(
        dir.path(),
        LogConfig {
            segment_bytes: 200,
            group_commit_window: Duration::from_millis(300),
        },
    )
    .unwrap();
    for base in 1..12 {
        std::fs::write(segment::segment_path(dir.path(), base), b"in the way").unwrap();
    }
    let pending: Vec<_> = (0..5)
        .map(|s| log.append_async(&records(0, s..s + 1)))
        .collect();
    let results: Vec<_> = pending.into_iter().map(PendingAppend::wait).collect();
    assert_eq!(
        log.stats().n_groups,
        1,
        "expected one group (one sync before the roll)"
    );
    let n_ok = results.iter().take_while(|r| r.is_ok()).count();
    assert!((1..10).contains(&n_ok), "{n_ok} acknowledged");
    for (s, r) in results.iter().enumerate() {
        match r {
            Ok(offset) => assert_eq!(*offset, s as u64),
            Err(e) => assert!(s >= n_ok && matches!(e, StoreError::Io { .. }), "{s}: {e}"),
        }
    }
    assert_eq!(log.end_offset(), n_ok as u64);
    let want: Vec<_> = (0..n_ok as u64).map(|s| (s, record(0, s))).collect();
    assert_eq!(read_all(&log, 0), want);
}

/// A segment in today's frame format whose payloads are schema 1 (what the build before
/// event ids wrote), holding `n` copies of the schema-1 test event.
fn write_schema_1_segment(dir: &Path, n: u64) -> Event {
    let (payload, event) = super::schema_v1::tests::schema_1_event_bytes();
    let mut bytes = frame::segment_header(0).to_vec();
    bytes[12..16].copy_from_slice(&1u32.to_le_bytes());
    for offset in 0..n {
        let len = (payload.len() as u32).to_le_bytes();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&len);
        hasher.update(&payload);
        hasher.update(&offset.to_le_bytes());
        bytes.extend_from_slice(&len);
        bytes.extend_from_slice(&hasher.finalize().to_le_bytes());
        bytes.extend_from_slice(&offset.to_le_bytes());
        bytes.extend_from_slice(&payload);
    }
    std::fs::write(segment::segment_path(dir, 0), bytes).unwrap();
    event
}

#[test]
fn a_last_segment_of_the_previous_schema_is_closed_and_appends_start_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let old = write_schema_1_segment(dir.path(), 3);
    let log = FileLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.end_offset(), 3);
    let tombstone = Record::UserDeleted {
        at_ms: 7,
        user: UserId::parse("u").unwrap(),
    };
    assert_eq!(log.append(std::slice::from_ref(&tombstone)).unwrap(), 3);
    assert_eq!(
        n_segments(dir.path()),
        2,
        "schemas are never mixed in a segment"
    );
    let mut want: Vec<_> = (0..3).map(|o| (o, Record::Event(old.clone()))).collect();
    want.push((3, tombstone));
    assert_eq!(read_all(&log, 0), want);
    drop(log);
    let log = FileLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(read_all(&log, 0), want);
}
