//! `recd export` end to end: the dataset (ml-100k, or generated events when `../shared` is
//! absent) → Parquet partitions → re-import gives identical events.

use std::path::{Path, PathBuf};

use recd_io::{Format, ImportOptions};
use recd_store::{Store, StoreConfig};
use recd_types::{Event, Record};

use crate::util::{arg, dataset, recd_err, recd_ok};

fn events_of(data: &Path) -> Vec<Event> {
    let store = Store::open(data, StoreConfig::default()).unwrap();
    let mut events: Vec<Event> = store
        .log()
        .read_from(0)
        .unwrap()
        .filter_map(|r| match r.unwrap().1 {
            Record::Event(e) => Some(e),
            _ => None,
        })
        .collect();
    events.sort_by(|a, b| {
        (a.timestamp_ms, &a.user_id, &a.item_id).cmp(&(b.timestamp_ms, &b.user_id, &b.item_id))
    });
    events
}

fn part_files(out: &Path) -> Vec<PathBuf> {
    let mut parts = Vec::new();
    // The day directories; `_recd_export.json` beside them is the export's manifest.
    for day in std::fs::read_dir(out).unwrap() {
        let day = day.unwrap();
        if !day.file_name().to_string_lossy().starts_with("date=") {
            continue;
        }
        for part in std::fs::read_dir(day.path()).unwrap() {
            parts.push(part.unwrap().path());
        }
    }
    parts.sort();
    parts
}

#[test]
fn export_partitions_by_day_and_round_trips() {
    let ds = dataset();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    recd_ok(&[
        "import",
        "--data-dir",
        arg(&data),
        "--events",
        arg(&ds.events),
        "--format",
        ds.format,
    ]);
    let out = dir.path().join("lake");
    let stdout = recd_ok(&["export", "--data-dir", arg(&data), "--out", arg(&out)]);
    assert!(
        stdout.starts_with(&format!("exported {} events in ", ds.n_events)),
        "{stdout}"
    );

    let parts = part_files(&out);
    let first_day = parts[0]
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    // u.data spans 1997-09-20 .. 1998-04-22; the generated events 2024-01-01 .. 2024-02-29.
    let expected = if ds.is_ml100k {
        "date=1997-09-20"
    } else {
        "date=2024-01-01"
    };
    assert_eq!(first_day, expected);
    assert!(
        parts.iter().all(|p| p.extension().unwrap() == "parquet"),
        "{parts:?}"
    );

    // Re-import every part through the Parquet reader into a fresh store.
    let again = dir.path().join("again");
    let store = Store::open(&again, StoreConfig::default()).unwrap();
    let mut n_rows = 0;
    for part in &parts {
        let report =
            recd_io::import_events(&store, part, Format::Auto, &ImportOptions::default()).unwrap();
        n_rows += report.n_imported;
    }
    drop(store);
    assert_eq!(n_rows, ds.n_events as u64);
    assert_eq!(events_of(&again), events_of(&data));

    // The CLI path reads a part too.
    let one = dir.path().join("one");
    let stdout = recd_ok(&[
        "import",
        "--data-dir",
        arg(&one),
        "--events",
        arg(&parts[0]),
        "--format",
        "parquet",
    ]);
    assert!(stdout.starts_with("imported "), "{stdout}");

    let stderr = recd_err(&["export", "--data-dir", arg(&data), "--out", arg(&out)]);
    assert!(stderr.contains("already holds an export"), "{stderr}");
}

#[test]
fn since_and_until_bound_the_days() {
    let ds = dataset();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    recd_ok(&[
        "import",
        "--data-dir",
        arg(&data),
        "--events",
        arg(&ds.events),
        "--format",
        ds.format,
    ]);
    let out = dir.path().join("lake");
    // A week inside each dataset's span.
    let (since, until, last) = if ds.is_ml100k {
        ("1998-01-01", "1998-01-08T00:00:00Z", "date=1998-01-07")
    } else {
        ("2024-02-01", "2024-02-08T00:00:00Z", "date=2024-02-07")
    };
    recd_ok(&[
        "export",
        "--data-dir",
        arg(&data),
        "--since",
        since,
        "--until",
        until,
        "--out",
        arg(&out),
    ]);
    let mut days: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("date="))
        .collect();
    days.sort();
    assert_eq!(
        days.first().map(String::as_str),
        Some(format!("date={since}").as_str())
    );
    assert_eq!(days.last().map(String::as_str), Some(last));
    let stderr = recd_err(&[
        "export",
        "--data-dir",
        arg(&data),
        "--since",
        "soon",
        "--out",
        arg(&out),
    ]);
    assert!(stderr.contains("\"soon\" is not RFC 3339"), "{stderr}");
}
