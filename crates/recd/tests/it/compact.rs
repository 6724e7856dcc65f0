//! `recd log compact` end to end: old segments are deleted only once exported, and the data
//! dir still trains, verifies, tails and serves its whole catalog afterwards.

use std::path::Path;
use std::process::Command;

use crate::util::{arg, recd_err, recd_ok};

/// Items of the newest model version.
fn n_model_items(data: &Path) -> usize {
    let current = std::fs::read_to_string(data.join("models/CURRENT")).unwrap();
    let ids = std::fs::read_to_string(data.join("models").join(current.trim()).join("items.ids"))
        .unwrap();
    ids.lines().count()
}

fn n_segments(data: &Path) -> usize {
    std::fs::read_dir(data.join("log"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".log")
        })
        .count()
}

#[test]
fn compact_deletes_exported_segments_and_the_data_dir_still_trains_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let lake = tmp.path().join("lake");
    let d = arg(&data);
    // Small segments, so the generated history (which ends in 2024) spans many: the import
    // appends batches of 10,000 events, each in a segment of its own past this size.
    let csv = tmp.path().join("csv");
    recd_ok(&[
        "gen",
        "--users",
        "300",
        "--items",
        "200",
        "--events",
        "120000",
        "--seed",
        "3",
        "--out",
        arg(&csv),
    ]);
    let status = Command::new(env!("CARGO_BIN_EXE_recd"))
        .args(["import", "--data-dir", d, "--batch-size", "10000"])
        .args(["--items", arg(&csv.join("items.csv"))])
        .args(["--users", arg(&csv.join("users.csv"))])
        .args(["--events", arg(&csv.join("events.csv"))])
        .env("RUST_LOG", "warn")
        .env("RECD__STORE__SEGMENT_BYTES", "65536")
        .status()
        .unwrap();
    assert!(status.success());
    recd_ok(&["train", "--data-dir", d, "--all"]);
    let items_before = n_model_items(&data);
    let segments_before = n_segments(&data);
    assert!(segments_before > 5, "{segments_before} segments");

    let err = recd_err(&["log", "compact", "--data-dir", d, "--older-than", "30d"]);
    assert!(err.contains("--exported-to"), "{err}");
    let err = recd_err(&[
        "log",
        "compact",
        "--data-dir",
        d,
        "--older-than",
        "30d",
        "--exported-to",
        arg(&lake),
    ]);
    assert!(err.contains("no finished export"), "{err}");

    recd_ok(&["export", "--data-dir", d, "--out", arg(&lake)]);
    let dry = recd_ok(&[
        "log",
        "compact",
        "--data-dir",
        d,
        "--older-than",
        "30d",
        "--exported-to",
        arg(&lake),
        "--dry-run",
    ]);
    assert!(dry.contains("would delete"), "{dry}");
    assert_eq!(n_segments(&data), segments_before);
    let out = recd_ok(&[
        "log",
        "compact",
        "--data-dir",
        d,
        "--older-than",
        "30d",
        "--exported-to",
        arg(&lake),
    ]);
    assert!(out.contains("deleted"), "{out}");
    assert_eq!(
        n_segments(&data),
        1,
        "every closed segment was old and exported: {out}"
    );

    let verify = recd_ok(&["log", "verify", "--data-dir", d]);
    assert!(verify.contains("were compacted"), "{verify}");
    assert!(verify.contains("0 damaged ranges"), "{verify}");
    let tail = recd_ok(&["events", "tail", "--data-dir", d, "-n", "3"]);
    assert_eq!(tail.lines().count(), 3, "{tail}");
    // Training reads what is left, and the catalog of the deleted segments from the snapshot.
    recd_ok(&["train", "--data-dir", d, "--all", "--force"]);
    assert_eq!(
        n_model_items(&data),
        items_before,
        "every catalog item is still a row of the model"
    );
    // Nothing new was exported since: a second compaction deletes nothing and says why.
    let again = recd_ok(&[
        "log",
        "compact",
        "--data-dir",
        d,
        "--older-than",
        "30d",
        "--exported-to",
        arg(&lake),
    ]);
    assert!(again.contains("deleted 0 segments"), "{again}");
}
