//! Catalog reads: sidecars instead of segments, walks where there are none, and the same
//! records either way.

use std::time::Duration;

use recd_types::{Event, EventKind, Item, ItemId, UserId};

use super::super::{FileLog, LogConfig, ReadOnlyLog};
use super::*;
use crate::EventLog;

fn item(n: u64) -> Record {
    Record::Item {
        at_ms: 1_700_000_000_000 + n as i64,
        item: Item::new(
            ItemId::parse(format!("item-{}", n % 7)).unwrap(),
            format!("v{n}"),
        ),
    }
}

fn event(n: u64) -> Record {
    Record::Event(Event::new(
        UserId::parse(format!("user-{}", n % 5)).unwrap(),
        Some(ItemId::parse(format!("item-{}", n % 7)).unwrap()),
        EventKind::View,
        1_700_000_000_000 + n as i64,
    ))
}

/// Batches of 20 events and one item record, in segments of about ten batches.
fn fill(log: &FileLog, batches: std::ops::Range<u64>) {
    for b in batches {
        let mut batch: Vec<Record> = (0..20).map(|k| event(b * 21 + k)).collect();
        batch.insert((b % 20) as usize, item(b));
        log.append(&batch).unwrap();
    }
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 16 << 10,
        group_commit_window: Duration::ZERO,
    }
}

/// The catalog records as a full read of the log finds them.
fn by_full_read(log: &dyn EventLog) -> Vec<(Offset, Record)> {
    log.read_from(0)
        .unwrap()
        .map(Result::unwrap)
        .filter(|(_, r)| is_catalog(r))
        .collect()
}

#[test]
fn closed_segments_are_read_from_their_sidecars_and_agree_with_a_full_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), config()).unwrap();
    fill(&log, 0..60);
    let n_segments = super::super::segment::list_segments(dir.path())
        .unwrap()
        .len() as u64;
    assert!(n_segments >= 4, "{n_segments} segments");
    let end = log.end_offset();
    let (records, stats) = log.catalog(end).unwrap();
    assert_eq!(records, by_full_read(&log));
    assert_eq!(records.len(), 60);
    assert_eq!(stats.sidecars, n_segments - 1, "{stats:?}");
    assert_eq!(stats.walked, 1, "only the active segment is walked");
    // Below an offset in the middle of the log, and through a reader in another process.
    let middle = records[30].0;
    let (head, _) = log.catalog(middle).unwrap();
    assert_eq!(head, records[..30].to_vec());
    let reader = ReadOnlyLog::open(dir.path()).unwrap();
    let got: Vec<_> = reader
        .read_catalog(end)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, records);
}

#[test]
fn a_segment_with_a_sidecar_is_not_read_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), config()).unwrap();
    fill(&log, 0..40);
    let end = log.end_offset();
    let want = by_full_read(&log);
    drop(log);
    // Damage an event frame in the middle of the first segment: a reader of the segment
    // would report it; the catalog read never opens it.
    let first = super::super::segment::list_segments(dir.path()).unwrap()[0]
        .path
        .clone();
    let mut bytes = std::fs::read(&first).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&first, bytes).unwrap();
    let reader = ReadOnlyLog::open(dir.path()).unwrap();
    let (got, stats) = reader.catalog(end).unwrap();
    assert_eq!(got, want);
    assert!(stats.sidecars >= 1);
    assert!(reader.damage().is_empty(), "{:?}", reader.damage());
    // Without the sidecar the segment is walked, and the damage found.
    std::fs::remove_file(sidecar_path(&first)).unwrap();
    let (_, stats) = reader.catalog(end).unwrap();
    assert_eq!(stats.walked, 2, "{stats:?}");
    assert_eq!(reader.damage().len(), 1);
}

#[test]
fn a_segment_resumed_after_a_restart_has_no_sidecar_and_is_walked() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), config()).unwrap();
    fill(&log, 0..3);
    drop(log);
    let log = FileLog::open(dir.path(), config()).unwrap();
    fill(&log, 3..40);
    let segments = super::super::segment::list_segments(dir.path()).unwrap();
    assert!(
        !sidecar_path(&segments[0].path).exists(),
        "the writer did not see all of it"
    );
    assert!(sidecar_path(&segments[1].path).exists());
    let (got, stats) = log.catalog(log.end_offset()).unwrap();
    assert_eq!(got, by_full_read(&log));
    assert_eq!(stats.walked, 2, "{stats:?}");
}

#[test]
fn a_damaged_sidecar_is_walked_around() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), config()).unwrap();
    fill(&log, 0..30);
    let first = super::super::segment::list_segments(dir.path()).unwrap()[0]
        .path
        .clone();
    let sidecar = sidecar_path(&first);
    let mut bytes = std::fs::read(&sidecar).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&sidecar, bytes).unwrap();
    let (got, stats) = log.catalog(log.end_offset()).unwrap();
    assert_eq!(got, by_full_read(&log));
    assert_eq!(stats.walked, 2, "{stats:?}");
}

#[test]
fn newest_per_key_keeps_the_last_item_and_user_record() {
    let user = |n: i64| Record::User {
        at_ms: n,
        user: recd_types::User::new(UserId::parse("u").unwrap()),
    };
    let gone = Record::UserDeleted {
        at_ms: 9,
        user: UserId::parse("u").unwrap(),
    };
    let records = vec![
        (0, item(0)),
        (1, user(1)),
        (2, item(7)),
        (3, gone.clone()),
        (4, item(1)),
    ];
    let got = newest_per_key(records);
    assert_eq!(got, vec![(2, item(7)), (3, gone), (4, item(1))]);
}

/// A log of impressions (the impressions log) has no catalog: its sidecars stay empty and a
/// catalog read, walked or from sidecars, finds nothing but the one item written beside them.
#[test]
fn impressions_are_not_catalog_records() {
    let impression = |n: u64| {
        Record::Impression(recd_types::Impression {
            request_id: format!("r{n}"),
            at_ms: 1_700_000_000_000 + n as i64,
            surface: recd_types::Surface::Recommendations,
            user_id: Some(UserId::parse(format!("user-{}", n % 5)).unwrap()),
            item_id: None,
            experiments: vec!["exp/a".into()],
            model_version: None,
            context: None,
            device: None,
            category: None,
            items: Vec::new(),
            cold: false,
            fallback: false,
            degraded: false,
            cached: false,
            latency_us: 1,
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), config()).unwrap();
    for b in 0..40u64 {
        let mut batch: Vec<Record> = (0..20).map(|k| impression(b * 20 + k)).collect();
        if b == 7 {
            batch.push(item(b));
        }
        log.append(&batch).unwrap();
    }
    let (records, stats) = log.catalog(log.end_offset()).unwrap();
    assert!(stats.sidecars >= 2, "{stats:?}");
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(matches!(records[0].1, Record::Item { .. }));
    let sidecars: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "catalog"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(sidecars < 2_000, "sidecars hold {sidecars} bytes");
}
