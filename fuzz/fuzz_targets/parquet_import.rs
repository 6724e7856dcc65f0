//! `recd import --format parquet`: every file is read to its end, every error names the file,
//! never a panic (a panic inside the parquet crate is caught by the reader and reported as an
//! error naming the file).
//!
//! Random bytes seldom look like Parquet, so an input is either a file of its own (when it
//! starts with the magic `PAR1`) or a list of edits to a valid file that `recd export` wrote,
//! built once per process: 4 bytes per edit, a position (u16, wrapped to the file's length),
//! a byte to xor there, and an op byte whose low three bits 0 make the edit a truncation.
#![no_main]

mod common;

use std::collections::HashSet;
use std::sync::{Mutex, Once, OnceLock};

use libfuzzer_sys::fuzz_target;
use recd_io::{ExportOptions, Format, export_events, read_events};
use recd_store::{EventLog, FileLog, LogConfig};
use recd_types::{Event, EventKind, ItemId, Record, UserId};

/// A small valid export: 40 events of every kind, in row groups of 16.
fn valid_file() -> &'static [u8] {
    static FILE: OnceLock<Vec<u8>> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("recd-fuzz-export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log = FileLog::open(dir.join("log"), LogConfig::default()).expect("open a log");
        let records: Vec<Record> = (0..40)
            .map(|n| {
                let kind = EventKind::ALL[n % EventKind::ALL.len()];
                let item =
                    (kind != EventKind::Search).then(|| ItemId::parse(format!("i{n}")).unwrap());
                let mut e = Event::new(
                    UserId::parse(format!("u{}", n % 7)).unwrap(),
                    item,
                    kind,
                    1_700_000_000_000 + n as i64,
                );
                if kind == EventKind::Rating {
                    e.value = Some(4.5);
                }
                if kind == EventKind::Search {
                    e.query = Some(format!("query {n}"));
                }
                e.session_id = Some(format!("s{}", n / 5));
                e.context.device = Some("tv".into());
                e.context.extra.insert("k".into(), format!("v{n}"));
                Record::Event(e)
            })
            .collect();
        log.append(&records).expect("append");
        let options = ExportOptions {
            rows_per_group: 16,
            ..ExportOptions::default()
        };
        export_events(&log, &dir.join("out"), &options).expect("export");
        let day = std::fs::read_dir(dir.join("out"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let bytes = std::fs::read(day.join("part-00000.parquet")).expect("read the export");
        let _ = std::fs::remove_dir_all(&dir);
        bytes
    })
}

/// libFuzzer's panic hook aborts on every panic, even one that is caught. A panic inside the
/// parquet crate is caught by recd-io's reader and reported as an error naming the file (what
/// this target checks), so the hook lets those through, printing each place once (`caught
/// parquet panic at ...` in the log); any other panic still aborts, as a crash. A panic is
/// the library's when it is raised in the parquet, arrow or snap sources or, for one raised in
/// `core` (an arithmetic overflow in a `sum`, say), when parquet code is on its stack.
fn let_library_panics_through() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let seen = Mutex::new(HashSet::new());
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let place = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let in_library = ["/parquet-", "/arrow-", "/snap-"]
                .iter()
                .any(|c| place.contains(c))
                || std::backtrace::Backtrace::force_capture()
                    .to_string()
                    .contains("parquet::");
            if in_library {
                if seen.lock().unwrap().insert(place.clone()) {
                    eprintln!("caught parquet panic at {place}: {info}");
                }
                return;
            }
            previous(info);
        }));
    });
}

fuzz_target!(|input: &[u8]| {
    let_library_panics_through();
    let bytes = if input.starts_with(b"PAR1") {
        input.to_vec()
    } else {
        let mut bytes = valid_file().to_vec();
        for edit in input.chunks_exact(4) {
            if bytes.is_empty() {
                break;
            }
            let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % bytes.len();
            if edit[3] & 7 == 0 {
                bytes.truncate(at);
            } else {
                bytes[at] ^= edit[2];
            }
        }
        bytes
    };
    let path = common::scratch("in.parquet", &bytes);
    common::read_all(&path, |p| read_events(p, Format::Parquet));
});
