//! Property tests of the file readers (CSV, JSONL, Parquet): any bytes, as any of these
//! formats, are read to the end without a panic, and every error names the file (a bad row
//! also its line and, in CSV, its column and field); events written by our own CSV writer and
//! Parquet encoder read back unchanged; a valid Parquet file with bytes flipped, overwritten
//! or cut off is read without a panic.

use std::path::Path;

use proptest::prelude::*;
use proptest::sample::select;
use recd_types::{Event, EventKind, ItemId, UserId};

use crate::format::Format;
use crate::{CsvEventWriter, EVENT_HEADER, IoError, columnar, read_events, read_items, read_users};

fn config() -> ProptestConfig {
    // Each case writes a small file: 128 keep a property near a second in a debug build.
    // PROPTEST_CASES overrides it for a longer run by hand.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(128);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// What reading a file to its end gave: the records and the errors, in order.
struct Read<T> {
    records: Vec<T>,
    errors: Vec<IoError>,
}

/// Reads `bytes`, written to a temporary file named `name`, with `read` to the end (or the
/// first error that ends it), and checks that every error names the file.
fn read_file<T>(
    name: &str,
    bytes: &[u8],
    read: impl Fn(&Path) -> Result<crate::Records<T>, IoError>,
) -> Read<T> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let mut res = Read {
        records: Vec::new(),
        errors: Vec::new(),
    };
    match read(&path) {
        Err(e) => res.errors.push(e),
        // A bad row leaves the reader able to go on; the bound catches a reader that never
        // ends (each record consumes at least one byte, bar the header).
        Ok(records) => {
            for next in records.take(bytes.len() + 2) {
                match next {
                    Ok(r) => res.records.push(r),
                    Err(e) => res.errors.push(e),
                }
            }
        }
    }
    for e in &res.errors {
        let text = e.to_string();
        assert!(
            text.starts_with(&path.display().to_string()),
            "error does not name the file: {text}"
        );
    }
    res
}

/// What the columns of a file are, for checking where errors point.
enum Columns<'a> {
    /// JSONL: no columns, so no error names one.
    None,
    /// CSV whose header is whatever the bytes say.
    Any,
    /// CSV with this header.
    Header(&'a [&'a str]),
}

/// Checks the place a bad row is reported at: a line within the file, and for CSV a column
/// within the header and the field that the header names there.
fn check_row_errors(errors: &[IoError], bytes: &[u8], columns: Columns<'_>) {
    let n_lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    for e in errors {
        let IoError::BadRow(row) = e else { continue };
        assert!(
            (1..=n_lines).contains(&row.line),
            "line {} of {n_lines}: {row}",
            row.line
        );
        match columns {
            Columns::None => assert_eq!(row.column, None, "{row}"),
            Columns::Any => assert!(row.column.is_none_or(|c| c >= 1), "{row}"),
            Columns::Header(header) => {
                if let Some(column) = row.column {
                    assert!((1..=header.len()).contains(&column), "{row}");
                    if let Some(field) = &row.field {
                        assert_eq!(field, header[column - 1], "{row}");
                    }
                }
            }
        }
    }
}

/// Cells for CSV rows and JSON values: mostly plausible, some broken.
fn cell() -> impl Strategy<Value = String> {
    select(vec![
        "",
        "u1",
        "i1",
        "view",
        "rating",
        "search",
        "purchase",
        "4.5",
        "0.1",
        "9",
        "-1",
        "1e40",
        "NaN",
        "1700000000000",
        "1700000000",
        "2024-01-01T00:00:00Z",
        "x\"y",
        "\"q\"",
        "a,b",
        "a\nb",
        "k=v",
        "k=v;k2=v2",
        "..",
        "a/b",
        " u",
        "\u{202e}",
        "\u{ff}",
        "\u{0}",
        "true",
    ])
    .prop_map(str::to_string)
}

fn csv_with_header() -> impl Strategy<Value = (Vec<&'static str>, Vec<u8>)> {
    (
        prop::sample::subsequence(EVENT_HEADER.to_vec(), 1..=EVENT_HEADER.len()),
        prop::collection::vec(prop::collection::vec(cell(), 0..8), 0..6),
    )
        .prop_map(|(header, rows)| {
            let mut w = csv::WriterBuilder::new()
                .flexible(true)
                .from_writer(Vec::new());
            w.write_record(&header).unwrap();
            for row in rows {
                w.write_record(&row).unwrap();
            }
            (header, w.into_inner().unwrap())
        })
}

fn jsonl_lines() -> impl Strategy<Value = Vec<u8>> {
    let key = select(vec![
        "user_id",
        "item_id",
        "type",
        "value",
        "rating",
        "timestamp",
        "timestamp_ms",
        "query",
        "context",
        "extra",
        "colour",
        "title",
        "tags",
    ]);
    let value = prop_oneof![
        cell().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        Just(serde_json::json!({"device": "tv", "k": [1]})),
        Just(serde_json::json!(["a", 1])),
        Just(serde_json::Value::Null),
    ];
    let line = prop_oneof![
        4 => prop::collection::vec((key, value), 0..6).prop_map(|pairs| {
            let body: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect();
            format!("{{{}}}", body.join(","))
        }),
        1 => cell(),
    ];
    prop::collection::vec(line, 0..6).prop_map(|l| l.join("\n").into_bytes())
}

/// Events the CSV writer can write: optional texts are absent or non-empty (an empty cell
/// reads as absent, so the writer refuses empty ones).
fn event() -> impl Strategy<Value = Event> {
    let id = prop::collection::vec(
        prop_oneof![
            prop::char::range('a', 'z'),
            select(vec!['-', '.', 'é', '"', ',', ' '])
        ],
        1..8,
    )
    .prop_map(|c| c.into_iter().collect::<String>())
    .prop_filter("a valid id", |s| UserId::parse(s.as_str()).is_ok());
    let text = prop::collection::vec(
        prop_oneof![
            prop::char::range('a', 'z'),
            select(vec!['"', ',', ' ', '\t', 'é'])
        ],
        1..10,
    )
    .prop_map(|c| c.into_iter().collect::<String>())
    .prop_filter("not blank", |s| !s.trim().is_empty());
    (
        (id.clone(), id, select(EventKind::ALL.to_vec())),
        (
            (5u32..=50).prop_map(|t| t as f32 / 10.0),
            text.clone(),
            0i64..=32_503_680_000_000,
        ),
        (
            prop::option::of(text.clone()),
            prop::option::of(text.clone()),
            prop::option::of(any::<u32>()),
        ),
    )
        .prop_map(
            |((u, i, kind), (rating, query, t), (session, device, dwell))| {
                let item = (kind != EventKind::Search).then(|| ItemId::parse(i).unwrap());
                let mut e = Event::new(UserId::parse(u).unwrap(), item, kind, t);
                e.value = (kind == EventKind::Rating).then_some(rating);
                e.query = (kind == EventKind::Search).then_some(query);
                e.session_id = session;
                e.context.device = device;
                e.dwell_ms = dwell;
                e
            },
        )
}

/// A Parquet file of `events` as the exporter lays it out (snappy, our schema), with row
/// groups of `rows_per_group`.
fn parquet_of(events: &[Event], rows_per_group: usize) -> Vec<u8> {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(rows_per_group))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, columnar::event_schema(), Some(props)).unwrap();
    writer
        .write(&columnar::events_to_batch(events).unwrap())
        .unwrap();
    writer.close().unwrap();
    out
}

/// How a valid file is damaged: some bytes flipped, a run overwritten, the end cut off.
#[derive(Debug, Clone)]
struct Damage {
    flips: Vec<(prop::sample::Index, u8)>,
    overwrite: Option<(prop::sample::Index, Vec<u8>)>,
    cut: Option<prop::sample::Index>,
}

fn damage() -> impl Strategy<Value = Damage> {
    (
        prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..6),
        prop::option::of((
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 1..16),
        )),
        prop::option::weighted(0.2, any::<prop::sample::Index>()),
    )
        .prop_map(|(flips, overwrite, cut)| Damage {
            flips,
            overwrite,
            cut,
        })
}

fn apply(damage: &Damage, mut bytes: Vec<u8>) -> Vec<u8> {
    let len = bytes.len();
    for (at, mask) in &damage.flips {
        bytes[at.index(len)] ^= mask;
    }
    if let Some((at, run)) = &damage.overwrite {
        let at = at.index(len);
        let end = (at + run.len()).min(len);
        bytes[at..end].copy_from_slice(&run[..end - at]);
    }
    if let Some(cut) = &damage.cut {
        bytes.truncate(cut.index(len));
    }
    bytes
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_as_csv_are_read_to_the_end(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let events = read_file("e.csv", &bytes, |p| read_events(p, Format::Csv));
        check_row_errors(&events.errors, &bytes, Columns::Any);
        read_file("i.csv", &bytes, |p| read_items(p, Format::Csv));
        read_file("u.csv", &bytes, |p| read_users(p, Format::Csv));
        read_file("r.csv", &bytes, |p| read_events(p, Format::MovielensCsv));
    }

    #[test]
    fn csv_rows_under_a_valid_header_are_read_or_located((header, bytes) in csv_with_header()) {
        let read = read_file("e.csv", &bytes, |p| read_events(p, Format::Csv));
        check_row_errors(&read.errors, &bytes, Columns::Header(&header));
    }

    #[test]
    fn any_bytes_as_jsonl_are_read_to_the_end(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let read = read_file("e.jsonl", &bytes, |p| read_events(p, Format::Jsonl));
        check_row_errors(&read.errors, &bytes, Columns::None);
        read_file("i.jsonl", &bytes, |p| read_items(p, Format::Jsonl));
        read_file("u.jsonl", &bytes, |p| read_users(p, Format::Jsonl));
    }

    #[test]
    fn json_lines_are_read_or_located(bytes in jsonl_lines()) {
        let read = read_file("e.jsonl", &bytes, |p| read_events(p, Format::Jsonl));
        check_row_errors(&read.errors, &bytes, Columns::None);
        prop_assert!(read.errors.iter().all(|e| matches!(e, IoError::BadRow(_))));
    }

    #[test]
    fn csv_written_events_read_back(events in prop::collection::vec(event(), 0..6)) {
        let mut w = CsvEventWriter::new(Vec::new()).unwrap();
        for e in &events {
            w.write(e).unwrap();
        }
        let bytes = w.finish().unwrap();
        let read = read_file("e.csv", &bytes, |p| read_events(p, Format::Csv));
        prop_assert!(read.errors.is_empty(), "{:?}", read.errors.iter().map(ToString::to_string).collect::<Vec<_>>());
        prop_assert_eq!(read.records, events);
    }

    #[test]
    fn any_bytes_as_parquet_are_refused_naming_the_file(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let read = read_file("e.parquet", &bytes, |p| read_events(p, Format::Parquet));
        prop_assert!(read.records.is_empty());
    }

    #[test]
    fn parquet_events_read_back(events in prop::collection::vec(event(), 0..6), group in 1usize..4) {
        let bytes = parquet_of(&events, group);
        let read = read_file("e.parquet", &bytes, |p| read_events(p, Format::Parquet));
        prop_assert!(read.errors.is_empty(), "{:?}", read.errors.iter().map(ToString::to_string).collect::<Vec<_>>());
        prop_assert_eq!(read.records, events);
    }

    #[test]
    fn damaged_parquet_is_read_without_a_panic(
        events in prop::collection::vec(event(), 1..6),
        group in 1usize..4,
        damage in damage(),
    ) {
        let bytes = apply(&damage, parquet_of(&events, group));
        read_file("e.parquet", &bytes, |p| read_events(p, Format::Parquet));
    }
}
