//! Retention's rules: what protects events, impressions by age, the config's checks.

use std::time::Duration;

use recd_types::{Event, EventKind, Impression, ItemId, Record, Shown, Surface, UserId};

use super::*;
use crate::{EventLog, LogConfig};

const DAY: i64 = 86_400_000;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 8 << 10,
        group_commit_window: Duration::ZERO,
    }
}

fn impression(day: i64, k: i64) -> Record {
    Record::Impression(Impression {
        request_id: format!("r{day}-{k}"),
        at_ms: day * DAY + k,
        surface: Surface::Recommendations,
        user_id: Some(UserId::parse(format!("u{k}")).unwrap()),
        item_id: None,
        experiments: vec![],
        model_version: None,
        context: None,
        device: None,
        category: None,
        items: (0..10)
            .map(|p| Shown {
                item_id: ItemId::parse(format!("i{p}")).unwrap(),
                position: p,
                source: "als".into(),
                score: 1.0,
            })
            .collect(),
        cold: false,
        fallback: false,
        degraded: false,
        cached: false,
        latency_us: 100,
    })
}

fn event(day: i64, k: i64) -> Record {
    Record::Event(Event::new(
        UserId::parse(format!("u{}", k % 7)).unwrap(),
        Some(ItemId::parse(format!("i{}", k % 11)).unwrap()),
        EventKind::Click,
        day * DAY + k,
    ))
}

fn request(log: LogName, days: u64) -> CompactRequest {
    CompactRequest {
        log,
        older_than: Duration::from_secs(days * 86_400),
        exported_to: None,
        discard_unexported: false,
        dry_run: false,
    }
}

fn logs(dir: &std::path::Path, fill: impl Fn(i64, i64) -> Record, log: LogName) -> Logs {
    let file = Arc::new(FileLog::open(dir.join(log.as_str()), config()).unwrap());
    for day in 0..40 {
        let batch: Vec<_> = (0..20).map(|k| fill(day, k)).collect();
        file.append(&batch).unwrap();
    }
    let other = Arc::new(FileLog::open(dir.join("other"), config()).unwrap());
    match log {
        LogName::Events => Logs {
            events: file,
            impressions: Some(other),
        },
        LogName::Impressions => Logs {
            events: other,
            impressions: Some(file),
        },
    }
}

#[test]
fn impressions_go_by_their_own_age() {
    let dir = tempfile::tempdir().unwrap();
    let logs = logs(dir.path(), impression, LogName::Impressions);
    let log = logs.impressions.clone().unwrap();
    let before: Vec<_> = log.read_from(0).unwrap().map(Result::unwrap).collect();
    // Now is day 40; ten days back is day 30.
    let report = logs
        .compact(&request(LogName::Impressions, 10), 40 * DAY)
        .unwrap();
    assert!(!report.deleted.is_empty());
    assert!(
        report.deleted.iter().all(|s| s.max_ms < 30 * DAY),
        "{report:?}"
    );
    let kept: Vec<_> = log.read_from(0).unwrap().map(Result::unwrap).collect();
    let at = |r: &Record| match r {
        Record::Impression(i) => i.at_ms,
        _ => unreachable!(),
    };
    assert!(
        before
            .iter()
            .filter(|x| !kept.contains(x))
            .all(|(_, r)| at(r) < 30 * DAY)
    );
    assert_eq!(kept.first().map(|(o, _)| *o), Some(report.start));
    assert!(
        before
            .iter()
            .filter(|(_, r)| at(r) >= 30 * DAY)
            .all(|x| kept.contains(x)),
        "nothing younger than the age is deleted"
    );
    // The segments' times say where day 35 starts.
    let from = log.offset_for_time(35 * DAY);
    assert!(from > report.start, "{from} {}", report.start);
    assert!(
        log.read_from(from)
            .unwrap()
            .map(Result::unwrap)
            .next()
            .is_some_and(|(_, r)| at(&r) < 35 * DAY + DAY)
    );
}

#[test]
fn events_need_an_export_or_an_explicit_discard() {
    let dir = tempfile::tempdir().unwrap();
    let logs = logs(dir.path(), event, LogName::Events);
    let now = 40 * DAY;
    let err = logs
        .compact(&request(LogName::Events, 10), now)
        .unwrap_err();
    assert!(
        matches!(
            err,
            CompactError::Invalid {
                field: "exported_to",
                ..
            }
        ),
        "{err}"
    );

    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&lake).unwrap();
    let mut asked = request(LogName::Events, 10);
    asked.exported_to = Some(lake.clone());
    let err = logs.compact(&asked, now).unwrap_err();
    assert!(err.to_string().contains("no finished export"), "{err}");

    // An export that covers the first 400 records lets only the segments below 400 go.
    ExportManifest {
        source: export_source(logs.events.dir()),
        end_offset: 400,
        since_ms: None,
        until_ms: None,
        n_events: 400,
    }
    .write(&lake)
    .unwrap();
    let report = logs.compact(&asked, now).unwrap();
    assert!(report.start <= 400 && report.start > 0, "{report:?}");
    assert!(
        report
            .kept_because
            .as_deref()
            .is_some_and(|w| w.contains("not all exported")),
        "{report:?}"
    );

    let mut discard = request(LogName::Events, 10);
    discard.discard_unexported = true;
    let mut dry = discard.clone();
    dry.dry_run = true;
    let would = logs.compact(&dry, now).unwrap();
    assert_eq!(
        logs.events.start_offset(),
        report.start,
        "a dry run deletes nothing"
    );
    let done = logs.compact(&discard, now).unwrap();
    assert_eq!(done.deleted, would.deleted);
    assert!(done.deleted.iter().all(|s| s.max_ms < 30 * DAY));
    assert_eq!(logs.events.start_offset(), done.start);
}

#[test]
fn impressions_are_not_exported_and_a_missing_log_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let logs = Logs {
        events: Arc::new(FileLog::open(dir.path().join("log"), config()).unwrap()),
        impressions: None,
    };
    let mut asked = request(LogName::Impressions, 1);
    let err = logs.compact(&asked, 0).unwrap_err();
    assert!(
        matches!(err, CompactError::NoSuchLog("impressions")),
        "{err}"
    );
    asked.exported_to = Some(dir.path().into());
    let err = compact_log(dir.path(), &asked, 0, |_| unreachable!()).unwrap_err();
    assert!(
        matches!(
            err,
            CompactError::Invalid {
                field: "exported_to",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn the_config_says_what_protects_old_events() {
    assert!(RetentionConfig::default().validate().is_ok());
    let on = RetentionConfig {
        events_older_than_days: 90,
        ..RetentionConfig::default()
    };
    assert!(on.validate().unwrap_err().contains("events_exported_to"));
    let exported = RetentionConfig {
        events_exported_to: "/lake".into(),
        ..on.clone()
    };
    assert!(exported.validate().is_ok());
    let both = RetentionConfig {
        events_discard_unexported: true,
        ..exported.clone()
    };
    assert!(both.validate().is_err());
    let requests = exported.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].log, LogName::Events);
    assert_eq!(
        requests[0].exported_to.as_deref(),
        Some(std::path::Path::new("/lake"))
    );
    assert_eq!(requests[1].log, LogName::Impressions);
    assert_eq!(requests[1].older_than, Duration::from_secs(31 * 86_400));
    let off = RetentionConfig {
        impressions_older_than_days: 0,
        ..RetentionConfig::default()
    };
    assert!(off.requests().is_empty());
}

/// Impressions segments closed by builds that gave impressions no times have a range that
/// says "no timed records": they must be read, not trusted (deleted whatever their age, or
/// skipped by a reader that wants the last days).
#[test]
fn old_impressions_segments_without_times_are_read_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let logs = logs(dir.path(), impression, LogName::Impressions);
    let log = logs.impressions.clone().unwrap();
    let mut no_times = [0u8; 20];
    no_times[..8].copy_from_slice(&i64::MAX.to_le_bytes());
    no_times[8..16].copy_from_slice(&i64::MIN.to_le_bytes());
    let crc = crc32fast::hash(&no_times[..16]);
    no_times[16..].copy_from_slice(&crc.to_le_bytes());
    let mut n = 0;
    for entry in std::fs::read_dir(log.dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "time") {
            std::fs::write(&path, no_times).unwrap();
            n += 1;
        }
    }
    assert!(n > 5);
    assert_eq!(log.offset_for_time(35 * DAY), 0, "not skipped");
    let report = logs
        .compact(&request(LogName::Impressions, 10), 40 * DAY)
        .unwrap();
    assert!(!report.deleted.is_empty());
    assert!(
        report.deleted.iter().all(|s| s.max_ms < 30 * DAY),
        "{report:?}"
    );
    assert!(report.kept_because.is_some_and(|w| w.contains("not older")));
}
