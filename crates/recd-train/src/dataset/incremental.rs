//! `Dataset::load_at` on a log of many segments: the window's segments are read, the older
//! ones only for their catalog records, and the result is what a full read gives.

use std::time::Duration;

use recd_store::log::LogIter;
use recd_store::{FileLog, LogConfig, Offset, StoreError};
use recd_types::{Event, EventKind, ItemId, UserId};

use super::*;

const DAY: i64 = 86_400_000;

/// Ten items appear in the catalog on day 0 only; then, each day for 60 days, 40 purchases.
fn log(dir: &std::path::Path) -> FileLog {
    let log = FileLog::open(
        dir,
        LogConfig {
            segment_bytes: 8 << 10,
            group_commit_window: Duration::ZERO,
        },
    )
    .unwrap();
    let items: Vec<Record> = (0..10)
        .map(|k| Record::Item {
            at_ms: 0,
            item: Item::new(ItemId::parse(format!("item-{k}")).unwrap(), format!("t{k}")),
        })
        .collect();
    log.append(&items).unwrap();
    for day in 0..60i64 {
        let events: Vec<Record> = (0..40i64)
            .map(|k| {
                Record::Event(Event::new(
                    UserId::parse(format!("user-{}", (day * 7 + k) % 50)).unwrap(),
                    Some(ItemId::parse(format!("item-{}", (day + k) % 13)).unwrap()),
                    EventKind::Purchase,
                    day * DAY + k * 1000,
                ))
            })
            .collect();
        log.append(&events).unwrap();
    }
    log
}

/// The log seen through the trait's defaults alone: no time index, no catalog apart from
/// the events, so every load reads it whole.
struct Whole<'a>(&'a FileLog);

impl EventLog for Whole<'_> {
    fn append(&self, records: &[Record]) -> Result<Offset, StoreError> {
        self.0.append(records)
    }
    fn end_offset(&self) -> Offset {
        self.0.end_offset()
    }
    fn read_from(&self, offset: Offset) -> Result<LogIter<'_>, StoreError> {
        self.0.read_from(offset)
    }
}

/// A data set by names: (user, item, time) per interaction, and (item, described) per item.
type ByName = (Vec<(String, String, i64)>, Vec<(String, bool)>);

/// The data set by names, independent of row numbering.
fn by_name(ds: &Dataset) -> ByName {
    let mut xs: Vec<_> = ds
        .interactions
        .iter()
        .map(|i| {
            (
                ds.users[i.user as usize].clone(),
                ds.items[i.item as usize].clone(),
                i.ts,
            )
        })
        .collect();
    xs.sort();
    let mut items: Vec<_> = ds
        .items
        .iter()
        .zip(&ds.catalog)
        .map(|(id, c)| (id.clone(), c.is_some()))
        .collect();
    items.sort();
    (xs, items)
}

#[test]
fn a_live_window_reads_only_its_segments_and_the_catalog_of_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let log = log(dir.path());
    let total = log.end_offset();
    let config = TrainConfig::default();
    // The newest event is half a day old: live data, a 30-day window.
    let now = 59 * DAY + DAY / 2;
    let (ds, stats) = Dataset::load_at(&log, &config, now).unwrap();
    let (full, full_stats) = Dataset::load_at(&Whole(&log), &config, now).unwrap();
    assert_eq!(full_stats.records_read, total);
    // From the first segment that may hold the window's first day on, each record once.
    assert_eq!(
        stats.start_offset,
        log.offset_for_time(29 * DAY),
        "{stats:?}"
    );
    assert_eq!(stats.records_read, total - stats.start_offset);
    assert!(
        stats.records_read < total * 2 / 3,
        "read {} of {total} records",
        stats.records_read
    );
    assert_eq!(stats.catalog_records_before, 10, "the items of day 0");
    assert_eq!(by_name(&ds), by_name(&full));
    assert_eq!(ds.window_ms, full.window_ms);
    assert_eq!(
        ds.window_ms.0,
        29 * DAY + 39_000,
        "30 days back from the newest event"
    );
    let described = ds.catalog.iter().filter(|c| c.is_some()).count();
    assert_eq!(
        described, 10,
        "items described only in a skipped segment are in the catalog"
    );
}

#[test]
fn a_historical_log_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let log = log(dir.path());
    let total = log.end_offset();
    let (ds, stats) = Dataset::load_at(&log, &TrainConfig::default(), 400 * DAY).unwrap();
    assert_eq!(stats.start_offset, 0);
    assert_eq!(stats.records_read, total);
    assert_eq!(ds.window_ms, (0, 59 * DAY + 39_000));
    assert_eq!(ds.interactions.len(), 60 * 40);
}
