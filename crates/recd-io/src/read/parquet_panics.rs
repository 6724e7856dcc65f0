//! Regression tests: corrupt Parquet files on which the parquet crate (60.1) panics instead
//! of returning an error. The reader catches the panic (`parquet::guarded`) and reports the
//! file as corrupt, naming it, like any other unreadable file.
//!
//! The files are a valid three-event export with one byte changed, found by the property
//! test `damaged_parquet_is_read_without_a_panic` and the `parquet_import` fuzz target
//! (`bench/runs/2026-12-03-fuzz.md`): byte 12 xor 4 (a division by zero in the byte-array
//! reader), byte 98 xor 255 (`offset + len out of bounds`), byte 160 xor 1 (`Decoder for dict
//! should have been set`). `row-count-overflow.parquet` came from the fuzz target (edits to
//! a 40-event export): its row counts overflow a `usize` sum when the reader is built, which
//! panics where overflow checks are on (debug builds, tests) and wraps silently where they are
//! off.

use std::path::PathBuf;

use crate::format::Format;
use crate::{IoError, read_events};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/parquet-panic")
        .join(name)
}

/// Reads `name` to the end and returns the error that ended it.
fn error_reading(name: &str) -> (PathBuf, IoError) {
    let path = fixture(name);
    let mut errors = Vec::new();
    match read_events(&path, Format::Parquet) {
        Err(e) => errors.push(e),
        Ok(records) => errors.extend(records.filter_map(Result::err)),
    }
    assert_eq!(errors.len(), 1, "{name}: {errors:?}");
    (path, errors.remove(0))
}

#[test]
fn files_that_make_the_parquet_crate_panic_are_reported_as_corrupt() {
    for name in [
        "divide-by-zero.parquet",
        "offset-out-of-bounds.parquet",
        "no-dictionary-decoder.parquet",
        "row-count-overflow.parquet",
    ] {
        let (path, err) = error_reading(name);
        let IoError::Parquet {
            path: named,
            reason,
        } = &err
        else {
            panic!("{name}: {err:?}");
        };
        assert_eq!(named, &path);
        assert!(err.to_string().starts_with(&path.display().to_string()));
        // When a parquet release stops panicking on one of these, its error replaces this
        // message: keep the file, drop the name from this check.
        assert!(
            reason.contains("the parquet library panicked"),
            "{name}: {reason}"
        );
    }
}
