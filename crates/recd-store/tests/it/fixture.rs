//! Logs written by older builds still read back record for record:
//! - `tests/fixtures/log-v1`: frame format 1 (no offsets in frames), record schema 1 (no event
//!   ids or tombstones). A writer opening it closes the old segment and appends in the
//!   current format and schema after it, so one log mixes both.
//! - `tests/fixtures/log-v2`: frame format 2, record schema 2 (event ids, flags, tombstones,
//!   catalog and profile records; no impressions), written by the build of commit 06f8ed5.
//!
//! Each is committed as its build wrote it, with the records it holds as JSON beside it.

use std::path::{Path, PathBuf};

use recd_store::{EventLog, FileLog, LogConfig, ReadOnlyLog};
use recd_types::{Record, UserId};

use super::{read_all, record, segment_files};

fn fixture() -> PathBuf {
    fixture_named("log-v1")
}

fn fixture_named(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The records the v1 fixture holds.
fn expected() -> Vec<(u64, Record)> {
    expected_in(&fixture())
}

/// The records a fixture holds, from the JSON written beside it when it was made.
fn expected_in(fixture: &Path) -> Vec<(u64, Record)> {
    let text = std::fs::read_to_string(fixture.join("expected.jsonl")).expect("expected.jsonl");
    text.lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("json line");
            let offset = value["offset"].as_u64().expect("offset");
            let record: Record = serde_json::from_value(value["record"].clone()).expect("a record");
            (offset, record)
        })
        .collect()
}

/// A copy of the fixture's log dir to write into.
fn copy_of_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for file in segment_files(&fixture().join("log")) {
        std::fs::copy(&file, dir.path().join(file.file_name().expect("name"))).expect("copy");
    }
    dir
}

#[test]
fn an_old_format_log_reads_back_and_takes_new_appends() {
    let want = expected();
    assert_eq!(want.len(), 26);
    // Read-only, straight from the committed files: nothing may be written there.
    let reader = ReadOnlyLog::open(fixture().join("log")).expect("open read-only");
    assert_eq!(reader.end_offset(), 26);
    assert_eq!(read_all(&reader, 0), want);
    assert_eq!(read_all(&reader, 20), want[20..].to_vec());
    assert!(reader.damage().is_empty());

    let dir = copy_of_fixture();
    let old_segments = segment_files(dir.path());
    let log = FileLog::open(dir.path(), LogConfig::default()).expect("open for writing");
    assert_eq!(log.end_offset(), 26);
    let new = schema_2_records();
    assert_eq!(log.append(&new).expect("append"), 26);
    let files = segment_files(dir.path());
    assert_eq!(
        files.len(),
        old_segments.len() + 1,
        "appends start a new segment"
    );
    let header = std::fs::read(files.last().expect("new segment")).expect("read");
    assert_eq!(
        &header[8..16],
        &[2, 0, 0, 0, 3, 0, 0, 0],
        "frame format 2, the current schema"
    );
    let mut all = want.clone();
    all.extend((26..).zip(new));
    assert_eq!(read_all(&log, 0), all);
    assert_eq!(read_all(&log, 25), all[25..].to_vec());
    drop(log);
    for (old, copy) in segment_files(&fixture().join("log"))
        .iter()
        .zip(&old_segments)
    {
        assert_eq!(
            std::fs::read(old).expect("fixture"),
            std::fs::read(copy).expect("copy"),
            "an old segment was modified"
        );
    }
    let log = FileLog::open(dir.path(), LogConfig::default()).expect("reopen");
    assert_eq!(read_all(&log, 0), all);
    drop(log);
    let reader = ReadOnlyLog::open(dir.path()).expect("open the mixed log read-only");
    assert_eq!(read_all(&reader, 0), all);
}

/// Records only schema 2 can hold: an event with an id, and a tombstone.
fn schema_2_records() -> Vec<Record> {
    let mut with_id = record("new", 0);
    if let Record::Event(e) = &mut with_id {
        e.event_id = Some("evt-1".into());
    }
    let tombstone = Record::UserDeleted {
        at_ms: 1_700_000_000_001,
        user: UserId::parse("user-new").expect("valid id"),
    };
    vec![with_id, tombstone, record("new", 1)]
}

#[test]
fn a_schema_2_log_reads_back() {
    let dir = fixture_named("log-v2");
    let want = expected_in(&dir);
    assert_eq!(want.len(), 15);
    assert!(
        want.iter()
            .any(|(_, r)| matches!(r, Record::UserDeleted { .. })),
        "the fixture holds a tombstone"
    );
    let reader = ReadOnlyLog::open(dir.join("log")).expect("open read-only");
    assert_eq!(reader.end_offset(), 15);
    assert_eq!(read_all(&reader, 0), want);
    assert_eq!(read_all(&reader, 9), want[9..].to_vec());
    assert!(reader.damage().is_empty());
}
