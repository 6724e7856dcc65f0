//! Importing files into a store: read, validate, append in batches (one fsync per batch).
//!
//! By default a bad row stops the import before anything is written: a first pass reads and
//! validates the whole file, the second appends it. Writing as we go would leave the rows before
//! the bad one in the store, and re-running the fixed file would then duplicate them. The
//! check pass costs a second read of the file; `check_first: false` skips it for trusted input.
//! With `skip_bad`, bad rows are counted (the first few kept for the report) and the rest is
//! imported in one pass.
//!
//! Where the batches go is an [`ImportSink`]: the local store, or whatever else implements it
//! (the `recd` binary sends them to a running server). Reading, checking and batching are the
//! same for every sink.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use recd_types::{Event, Item, TimestampMs, User};

use crate::read::{self, ReadRecord, RecordSource};
use crate::{Format, ImportSink, IoError, ProgressFn, RowError};

/// How many bad rows a report keeps for display.
pub const MAX_REPORTED_BAD_ROWS: usize = 10;

/// Settings of an import.
#[derive(Clone)]
pub struct ImportOptions {
    /// Count and skip bad rows instead of stopping at the first one.
    pub skip_bad: bool,
    /// Validate the whole file before writing anything (ignored with `skip_bad`).
    pub check_first: bool,
    /// Records per store append (and per fsync).
    pub batch_size: usize,
    /// Called now and then with (bytes read, file size), for progress display.
    pub progress: Option<ProgressFn>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            skip_bad: false,
            check_first: true,
            batch_size: 10_000,
            progress: None,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// Records written to the store.
    pub n_imported: u64,
    /// Events not written because the destination already had their `event_id` (a file
    /// imported again).
    pub n_duplicates: u64,
    /// Bad rows skipped (only with `skip_bad`).
    pub n_bad: u64,
    /// The first [`MAX_REPORTED_BAD_ROWS`] bad rows.
    pub bad_rows: Vec<RowError>,
    /// Size of the input file in bytes.
    pub n_bytes: u64,
}

/// Imports events from `path` (read in `format`) into `sink`.
pub fn import_events(
    sink: &(impl ImportSink + ?Sized),
    path: &Path,
    format: Format,
    options: &ImportOptions,
) -> Result<ImportReport, IoError> {
    import::<Event>(path, format, options, |batch| sink.append_events(batch))
}

/// Imports catalog items from `path` into `sink` (upserts, stamped with the current time).
pub fn import_items(
    sink: &(impl ImportSink + ?Sized),
    path: &Path,
    format: Format,
    options: &ImportOptions,
) -> Result<ImportReport, IoError> {
    let at_ms = now_ms();
    import::<Item>(path, format, options, |batch| {
        sink.upsert_items(batch, at_ms).map(|()| 0)
    })
}

/// Imports user profiles from `path` into `sink` (upserts, stamped with the current time).
pub fn import_users(
    sink: &(impl ImportSink + ?Sized),
    path: &Path,
    format: Format,
    options: &ImportOptions,
) -> Result<ImportReport, IoError> {
    let at_ms = now_ms();
    import::<User>(path, format, options, |batch| {
        sink.upsert_users(batch, at_ms).map(|()| 0)
    })
}

fn now_ms() -> TimestampMs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn import<T: ReadRecord>(
    path: &Path,
    format: Format,
    options: &ImportOptions,
    mut write: impl FnMut(Vec<T>) -> Result<u64, IoError>,
) -> Result<ImportReport, IoError> {
    let n_bytes = std::fs::metadata(path)
        .map_err(|e| IoError::io(path, e))?
        .len();
    let format = crate::format::resolve(path, format)?;
    if options.check_first && !options.skip_bad {
        // The first pass only validates; its progress counts the first half.
        let mut source = read::open::<T>(path, format)?;
        let half = |done: u64| done / 2;
        drive(source.as_mut(), path, options, n_bytes, half, |_| Ok(0))?;
    }
    let mut source = read::open::<T>(path, format)?;
    let second_half = |done: u64| {
        if options.check_first && !options.skip_bad {
            n_bytes / 2 + done / 2
        } else {
            done
        }
    };
    let mut report = drive(
        source.as_mut(),
        path,
        options,
        n_bytes,
        second_half,
        &mut write,
    )?;
    report.n_bytes = n_bytes;
    if let Some(progress) = &options.progress {
        progress(n_bytes, n_bytes);
    }
    Ok(report)
}

/// One pass over a source: batches of good records go to `write` (which returns how many of
/// them were duplicates it left out); bad rows stop the pass or, with `skip_bad`, are counted.
/// A failed write names the file and the batch.
fn drive<T>(
    source: &mut dyn RecordSource<T>,
    path: &Path,
    options: &ImportOptions,
    n_bytes: u64,
    scale: impl Fn(u64) -> u64,
    mut write: impl FnMut(Vec<T>) -> Result<u64, IoError>,
) -> Result<ImportReport, IoError> {
    let batch_size = options.batch_size.max(1);
    let mut report = ImportReport::default();
    let mut n_batches = 0u64;
    let mut write = |batch: Vec<T>, n_before: u64| {
        n_batches += 1;
        let n = batch.len() as u64;
        write(batch).map_err(|source| IoError::Batch {
            path: path.to_path_buf(),
            batch: n_batches,
            first: n_before + 1,
            last: n_before + n,
            source: Box::new(source),
        })
    };
    let mut batch = Vec::with_capacity(batch_size);
    // Records handed to `write` so far, duplicates included (what batch errors count).
    let mut n_written = 0u64;
    while let Some(next) = source.next_record() {
        match next {
            Ok(record) => batch.push(record),
            Err(IoError::BadRow(row)) if options.skip_bad => {
                report.n_bad += 1;
                if report.bad_rows.len() < MAX_REPORTED_BAD_ROWS {
                    report.bad_rows.push(row);
                }
            }
            Err(e) => return Err(e),
        }
        if batch.len() >= batch_size {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
            let n = full.len() as u64;
            let n_duplicates = write(full, n_written)?;
            n_written += n;
            report.n_imported += n - n_duplicates;
            report.n_duplicates += n_duplicates;
            if let Some(progress) = &options.progress {
                progress(scale(source.bytes_read()), n_bytes);
            }
        }
    }
    if !batch.is_empty() {
        let n = batch.len() as u64;
        let n_duplicates = write(batch, n_written)?;
        report.n_imported += n - n_duplicates;
        report.n_duplicates += n_duplicates;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use recd_store::{Store, StoreConfig};

    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("data"), StoreConfig::default()).unwrap();
        (dir, store)
    }

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    const PROTOCOL: &str =
        "user_id,item_id,rating,timestamp\n1,10,4,881250949\n1,11,5,881250950\n2,10,3,881250951\n";

    #[test]
    fn protocol_csv_imports_as_ratings_in_batches() {
        let (dir, store) = store();
        let path = write(&dir, "train.csv", PROTOCOL);
        let options = ImportOptions {
            batch_size: 2,
            ..ImportOptions::default()
        };
        let report = import_events(&store, &path, Format::Auto, &options).unwrap();
        assert_eq!((report.n_imported, report.n_bad), (3, 0));
        assert_eq!(store.log().end_offset(), 3);
        let events: Vec<_> = store
            .log()
            .read_from(0)
            .unwrap()
            .map(|r| r.unwrap().1)
            .collect();
        assert_eq!(events[2].timestamp_ms(), 881_250_951_000);
    }

    #[test]
    fn a_bad_row_stops_the_import_before_anything_is_written() {
        let (dir, store) = store();
        let text = format!("{PROTOCOL}3,12,lots,881250952\n4,12,1,881250953\n");
        let path = write(&dir, "train.csv", &text);
        let options = ImportOptions {
            batch_size: 1,
            ..ImportOptions::default()
        };
        let err = import_events(&store, &path, Format::Csv, &options).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.ends_with("train.csv:5:3: field `rating`: \"lots\" is not a number"),
            "{msg}"
        );
        assert_eq!(store.log().end_offset(), 0);
    }

    #[test]
    fn skip_bad_counts_and_reports_bad_rows() {
        let (dir, store) = store();
        let text = format!("{PROTOCOL}3,12,lots,881250952\n4,12\n4,12,1,881250953\n");
        let path = write(&dir, "train.csv", &text);
        let options = ImportOptions {
            skip_bad: true,
            ..ImportOptions::default()
        };
        let report = import_events(&store, &path, Format::Csv, &options).unwrap();
        assert_eq!((report.n_imported, report.n_bad), (4, 2));
        assert_eq!(report.bad_rows[0].line, 5);
        assert_eq!(report.bad_rows[1].line, 6);
        assert!(report.bad_rows[1].reason.contains("expected 4 fields"));
        assert_eq!(store.log().end_offset(), 4);
    }

    #[test]
    fn a_file_with_event_ids_imported_twice_is_counted_once() {
        let (dir, store) = store();
        let csv = write(
            &dir,
            "e.csv",
            "user_id,item_id,type,timestamp_ms,event_id\nu,i,view,5,e1\nu,i,view,6,\nu,i,click,7,e2\n",
        );
        let jsonl = write(
            &dir,
            "e.jsonl",
            "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"view\",\"timestamp_ms\":8,\"event_id\":\"e2\"}\n{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"view\",\"timestamp_ms\":9,\"event_id\":3}\n",
        );
        let o = ImportOptions {
            batch_size: 2,
            ..ImportOptions::default()
        };
        let first = import_events(&store, &csv, Format::Auto, &o).unwrap();
        assert_eq!((first.n_imported, first.n_duplicates), (3, 0));
        let again = import_events(&store, &csv, Format::Auto, &o).unwrap();
        assert_eq!(
            (again.n_imported, again.n_duplicates),
            (1, 2),
            "only the row without an id is written again"
        );
        let other = import_events(&store, &jsonl, Format::Auto, &o).unwrap();
        assert_eq!((other.n_imported, other.n_duplicates), (1, 1));
        assert_eq!(store.log().end_offset(), 5);
    }

    #[test]
    fn unknown_columns_fail_the_file() {
        let (dir, store) = store();
        let path = write(&dir, "e.csv", "user_id,item_id,ratng,timestamp\n1,2,3,4\n");
        let options = ImportOptions {
            skip_bad: true,
            ..ImportOptions::default()
        };
        let err = import_events(&store, &path, Format::Csv, &options).unwrap_err();
        assert!(
            err.to_string().contains("unknown column(s) `ratng`"),
            "{err}"
        );
    }

    #[test]
    fn items_and_users_in_every_text_format() {
        let (dir, store) = store();
        let items = write(
            &dir,
            "items.csv",
            "item_id,category,price,created_at\n1,3,12.34,1704067200\n",
        );
        let users = write(
            &dir,
            "users.jsonl",
            "{\"user_id\":\"u1\",\"signup_at\":\"2024-01-01T00:00:00Z\",\"interests\":[\"a\"]}\n",
        );
        let movies = write(
            &dir,
            "movies.csv",
            "movieId,title,genres\n1,\"Toy Story, The (1995)\",Adventure|Animation\n2,Nothing (2001),(no genres listed)\n",
        );
        let o = ImportOptions::default();
        assert_eq!(
            import_items(&store, &items, Format::Auto, &o)
                .unwrap()
                .n_imported,
            1
        );
        assert_eq!(
            import_users(&store, &users, Format::Auto, &o)
                .unwrap()
                .n_imported,
            1
        );
        assert_eq!(
            import_items(&store, &movies, Format::Auto, &o)
                .unwrap()
                .n_imported,
            2
        );
        let catalog = store.catalog();
        assert_eq!(catalog.n_items().unwrap(), 2);
        let toy = catalog.get_item("1").unwrap().unwrap();
        assert_eq!(toy.title, "Toy Story, The (1995)");
        assert_eq!(toy.category.as_deref(), Some("Adventure"));
        assert_eq!(toy.created_at_ms, Some(788_918_400_000));
        let none = catalog.get_item("2").unwrap().unwrap();
        assert!(none.tags.is_empty() && none.category.is_none());
        let u = catalog.get_user("u1").unwrap().unwrap();
        assert_eq!(u.signup_ms, Some(1_704_067_200_000));
        let err = import_users(&store, &movies, Format::MovielensCsv, &o).unwrap_err();
        assert!(err.to_string().contains("no user file"), "{err}");
    }

    #[test]
    fn jsonl_rows_are_checked() {
        let (dir, store) = store();
        let path = write(
            &dir,
            "e.jsonl",
            "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"view\",\"timestamp_ms\":5}\n\n{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"view\",\"timestamp_ms\":5,\"colour\":\"red\"}\nnot json\n{\"user_id\":\"u\",\"item_id\":\"i\",\"timestamp_ms\":5}\n",
        );
        let options = ImportOptions {
            skip_bad: true,
            ..ImportOptions::default()
        };
        let report = import_events(&store, &path, Format::Auto, &options).unwrap();
        assert_eq!((report.n_imported, report.n_bad), (1, 3));
        let lines: Vec<u64> = report.bad_rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert!(report.bad_rows[0].reason.contains("`colour`"));
        assert_eq!(report.bad_rows[2].field.as_deref(), Some("type"));
    }

    /// Takes two batches, refuses the third.
    #[derive(Default)]
    struct RefusesThird(Mutex<Vec<usize>>);

    impl ImportSink for RefusesThird {
        fn append_events(&self, batch: Vec<Event>) -> Result<u64, IoError> {
            let mut seen = self.0.lock().unwrap();
            if seen.len() == 2 {
                return Err(IoError::Remote {
                    refused: true,
                    source: "no thanks".into(),
                });
            }
            seen.push(batch.len());
            Ok(0)
        }

        fn upsert_items(&self, _: Vec<Item>, _: TimestampMs) -> Result<(), IoError> {
            unreachable!("events only")
        }

        fn upsert_users(&self, _: Vec<User>, _: TimestampMs) -> Result<(), IoError> {
            unreachable!("events only")
        }
    }

    #[test]
    fn a_refused_batch_names_the_file_the_batch_and_what_went_before() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{PROTOCOL}3,12,1,881250952\n4,12,1,881250953\n");
        let path = write(&dir, "train.csv", &text);
        let options = ImportOptions {
            batch_size: 2,
            ..ImportOptions::default()
        };
        let sink = RefusesThird::default();
        let err = import_events(&sink, &path, Format::Csv, &options).unwrap_err();
        assert_eq!(*sink.0.lock().unwrap(), vec![2, 2]);
        assert!(err.is_input_error());
        let msg = err.to_string();
        assert!(
            msg.ends_with("train.csv: batch 3 (records 5 to 5; the 4 before it were imported)"),
            "{msg}"
        );
        let source = std::error::Error::source(&err).unwrap();
        assert_eq!(source.to_string(), "the destination refused the batch");
    }
}
