//! Compaction: old segments go, offsets stay, the catalog stays complete, and the writer and
//! readers open the log that starts later.

use std::time::Duration;

use recd_types::{Event, EventKind, Item, ItemId, User, UserId};

use super::super::{FileLog, LogConfig, ReadOnlyLog, verify};
use super::*;
use crate::EventLog;

const DAY: i64 = 86_400_000;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 8 << 10,
        group_commit_window: Duration::ZERO,
    }
}

/// Day `day`'s records: an item revision, a profile, and 30 events.
fn day(day: i64) -> Vec<Record> {
    let mut res = vec![
        Record::Item {
            at_ms: day * DAY,
            item: Item::new(
                ItemId::parse(format!("item-{}", day % 9)).unwrap(),
                format!("rev {day}"),
            ),
        },
        Record::User {
            at_ms: day * DAY,
            user: User::new(UserId::parse(format!("user-{}", day % 4)).unwrap()),
        },
    ];
    res.extend((0..30).map(|k| {
        Record::Event(Event::new(
            UserId::parse(format!("user-{}", k % 6)).unwrap(),
            Some(ItemId::parse(format!("item-{}", k % 9)).unwrap()),
            EventKind::Click,
            day * DAY + k * 1000,
        ))
    }));
    res
}

fn fill(dir: &Path, days: std::ops::Range<i64>) -> Offset {
    let log = FileLog::open(dir, config()).unwrap();
    for d in days {
        log.append(&day(d)).unwrap();
    }
    log.end_offset()
}

fn all_records(log: &dyn EventLog) -> Vec<(Offset, Record)> {
    log.read_from(0).unwrap().map(Result::unwrap).collect()
}

fn catalog_now(log: &dyn EventLog) -> Vec<(Offset, Record)> {
    let end = log.end_offset();
    catalog::newest_per_key(log.read_catalog(end).unwrap().map(Result::unwrap).collect())
}

fn everything<'a>() -> CompactOptions<'a> {
    CompactOptions {
        older_than_ms: 20 * DAY,
        exported: &|_| Ok(()),
        dry_run: false,
    }
}

#[test]
fn compaction_deletes_old_segments_and_keeps_offsets_and_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let end = fill(dir.path(), 0..40);
    let before = ReadOnlyLog::open(dir.path()).unwrap();
    let records = all_records(&before);
    let catalog = catalog_now(&before);
    drop(before);
    let n_segments = segment::list_segments(dir.path()).unwrap().len();

    let report = compact(dir.path(), &everything()).unwrap();
    assert!(!report.deleted.is_empty());
    assert!(
        report.deleted.iter().all(|s| s.max_ms < 20 * DAY),
        "{report:?}"
    );
    assert!(
        report
            .kept_because
            .as_deref()
            .is_some_and(|w| w.contains("not older")),
        "{report:?}"
    );
    let start = report.start;
    assert!(start > 0);
    assert_eq!(
        segment::list_segments(dir.path()).unwrap().len(),
        n_segments - report.deleted.len()
    );

    // A reader: the records from the new start, at their offsets; the whole catalog.
    let reader = ReadOnlyLog::open(dir.path()).unwrap();
    let kept: Vec<_> = records
        .iter()
        .filter(|(o, _)| *o >= start)
        .cloned()
        .collect();
    assert_eq!(all_records(&reader), kept);
    assert_eq!(catalog_now(&reader), catalog);
    assert!(reader.offset_for_time(0) >= start);
    assert_eq!(reader.end_offset(), end);

    // The writer opens it, appends after it, and its catalog read agrees.
    let writer = FileLog::open(dir.path(), config()).unwrap();
    assert_eq!(writer.end_offset(), end);
    assert_eq!(writer.append(&day(40)).unwrap(), end);
    assert_eq!(writer.read_from(end).unwrap().count(), day(40).len());
    let mut want = catalog.clone();
    want.extend(
        day(40)
            .into_iter()
            .enumerate()
            .filter(|(_, r)| catalog::is_catalog(r))
            .map(|(i, r)| (end + i as u64, r)),
    );
    assert_eq!(catalog_now(&writer), catalog::newest_per_key(want));
    drop(writer);
    let report = verify(dir.path()).unwrap();
    assert!(report.damage.is_empty(), "{:?}", report.damage);
    assert_eq!(report.start, start);
}

#[test]
fn a_second_compaction_merges_into_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 0..40);
    let catalog = catalog_now(&ReadOnlyLog::open(dir.path()).unwrap());
    let first = compact(
        dir.path(),
        &CompactOptions {
            older_than_ms: 10 * DAY,
            ..everything()
        },
    )
    .unwrap();
    let second = compact(dir.path(), &everything()).unwrap();
    assert!(!first.deleted.is_empty() && !second.deleted.is_empty());
    assert!(second.start > first.start);
    assert_eq!(second.deleted[0].base, first.start);
    assert_eq!(
        catalog_now(&ReadOnlyLog::open(dir.path()).unwrap()),
        catalog
    );
}

#[test]
fn a_segment_not_exported_stops_compaction_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 0..40);
    let exported_until = segment::list_segments(dir.path()).unwrap()[2].base;
    let check = |span: &SegmentSpan| {
        if span.end <= exported_until {
            Ok(())
        } else {
            Err(format!("offsets up to {} are not exported", span.end))
        }
    };
    let options = CompactOptions {
        exported: &check,
        dry_run: true,
        ..everything()
    };
    let dry = compact(dir.path(), &options).unwrap();
    assert_eq!(dry.deleted.len(), 2);
    assert!(
        dry.kept_because
            .as_deref()
            .unwrap()
            .contains("not exported")
    );
    assert_eq!(
        segment::list_segments(dir.path()).unwrap()[0].base,
        0,
        "a dry run deletes nothing"
    );
    let done = compact(
        dir.path(),
        &CompactOptions {
            dry_run: false,
            ..options
        },
    )
    .unwrap();
    assert_eq!(done.deleted, dry.deleted);
    assert_eq!(done.start, exported_until);
}

#[test]
fn compaction_needs_the_writers_lock() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 0..40);
    let _writer = FileLog::open(dir.path(), config()).unwrap();
    let err = compact(dir.path(), &everything()).unwrap_err();
    assert!(
        err.to_string().contains("already open for writing"),
        "{err}"
    );
}

#[test]
fn segments_missing_after_the_snapshot_are_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 0..40);
    let report = compact(dir.path(), &everything()).unwrap();
    let first = segment::list_segments(dir.path()).unwrap()[0].clone();
    assert_eq!(first.base, report.start);
    std::fs::remove_file(&first.path).unwrap();
    let err = FileLog::open(dir.path(), config()).err().expect("refused");
    assert!(err.to_string().contains("missing"), "{err}");
}

/// Compaction by the process that writes the log, while it appends and while readers (its
/// own and another process's) are in the middle of the segments that go.
#[test]
fn compaction_beside_the_writer_keeps_appends_and_readers_going() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 0..40);
    let log = std::sync::Arc::new(FileLog::open(dir.path(), config()).unwrap());
    let records = all_records(log.as_ref());
    let catalog = catalog_now(log.as_ref());
    let other = ReadOnlyLog::open(dir.path()).unwrap();

    // Readers that listed every segment: one has the first segment open, the others have
    // opened nothing yet.
    let mut started = log.read_from(0).unwrap();
    let first = started.next().unwrap().unwrap();
    assert_eq!(first, records[0]);
    let unstarted = log.read_from(records[records.len() / 4].0).unwrap();
    let other_reader = other.read_from(0).unwrap();

    let appender = {
        let log = log.clone();
        std::thread::spawn(move || {
            (40..60)
                .map(|d| (log.append(&day(d)).unwrap(), day(d)))
                .collect::<Vec<_>>()
        })
    };
    let report = log.compact(&everything()).unwrap();
    let appended = appender.join().unwrap();
    let start = report.start;
    assert!(!report.deleted.is_empty() && start > records[records.len() / 4].0);
    assert!(report.n_bytes_deleted > 0);
    assert_eq!(log.start_offset(), start);

    // The old readers: what they yield is the log's record at each offset, in order, and
    // everything from the new start on.
    let check = |got: Vec<(Offset, Record)>, from: Offset| {
        let by_offset: std::collections::HashMap<_, _> = records.iter().cloned().collect();
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
        for (o, r) in &got {
            assert_eq!(by_offset.get(o), Some(r), "offset {o}");
        }
        let tail: Vec<_> = records
            .iter()
            .filter(|(o, _)| *o >= start.max(from))
            .cloned()
            .collect();
        assert!(
            got.ends_with(&tail),
            "the records from {start} on are all read"
        );
    };
    check(started.map(Result::unwrap).collect(), 0);
    check(unstarted.map(Result::unwrap).collect(), 0);
    check(other_reader.map(Result::unwrap).collect(), 0);

    // New readers start at the new start and see the appends made during compaction; the
    // catalog is whole, in both processes.
    let mut want = records
        .iter()
        .filter(|(o, _)| *o >= start)
        .cloned()
        .collect::<Vec<_>>();
    for (first, batch) in appended {
        want.extend(
            batch
                .into_iter()
                .enumerate()
                .map(|(i, r)| (first + i as u64, r)),
        );
    }
    want.sort_by_key(|(o, _)| *o);
    assert_eq!(all_records(log.as_ref()), want);
    assert_eq!(all_records(&other), want);
    let mut whole = catalog.clone();
    whole.extend(
        want.iter()
            .filter(|(o, r)| *o >= records.len() as u64 && catalog::is_catalog(r))
            .cloned(),
    );
    let whole = catalog::newest_per_key(whole);
    assert_eq!(catalog_now(log.as_ref()), whole);
    assert_eq!(catalog_now(&other), whole);

    // Appends after it, a restart, and a check of every segment.
    let end = log.end_offset();
    assert_eq!(log.append(&day(60)).unwrap(), end);
    drop(log);
    let log = FileLog::open(dir.path(), config()).unwrap();
    assert_eq!(log.start_offset(), start);
    assert_eq!(log.end_offset(), end + day(60).len() as u64);
    drop(log);
    let report = verify(dir.path()).unwrap();
    assert!(report.damage.is_empty(), "{:?}", report.damage);
}

/// A segment that vanishes without a compaction is still an error for a reader.
#[test]
fn a_segment_deleted_by_hand_is_still_an_error_for_readers() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 0..40);
    let other = ReadOnlyLog::open(dir.path()).unwrap();
    let reader = other.read_from(0).unwrap();
    let second = segment::list_segments(dir.path()).unwrap()[1].clone();
    std::fs::remove_file(&second.path).unwrap();
    let err = reader
        .map(|r| r.map(|_| ()))
        .collect::<Result<Vec<_>, _>>()
        .unwrap_err();
    assert!(err.to_string().contains("No such file"), "{err}");
}
