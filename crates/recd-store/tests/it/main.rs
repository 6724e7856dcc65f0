//! Integration tests of `recd-store`, as one test binary with a module per concern.
//!
//! - `crash`: a child process appends at full speed and is SIGKILLed; every append it saw
//!   acknowledged must be in the reopened log, byte for byte.
//! - `corrupt`: a torn tail past the durable end is truncated on open with a warning; damage
//!   anywhere else is walked around, reported and quarantined, and every other record keeps
//!   its offset.
//! - `readers`: read-only handles beside a writer see a durable, consistent prefix.
//! - `fixture`: a log written by an older build (frame format 1) still opens.

mod corrupt;
mod crash;
mod fixture;
mod readers;

use std::path::{Path, PathBuf};

use recd_store::{EventLog, Offset};
use recd_types::{Event, EventKind, ItemId, Record, UserId};

/// A realistic view event whose every field is a function of `(writer, seq)`, so a record read
/// back can be compared with what must be at its offset.
pub fn record(writer: &str, seq: u64) -> Record {
    let mut event = Event::new(
        UserId::parse(format!("user-{writer}")).expect("valid user id"),
        Some(ItemId::parse(format!("item-{}", seq % 1682)).expect("valid item id")),
        EventKind::View,
        1_700_000_000_000 + seq as i64,
    );
    event.session_id = Some(format!("sess-{writer}-{}", seq / 16));
    event.context.page = Some("homepage".into());
    event.dwell_ms = Some((seq % 10_000) as u32);
    Record::Event(event)
}

/// Every record of the log from `from`, failing the test on any read error.
pub fn read_all(log: &dyn EventLog, from: Offset) -> Vec<(Offset, Record)> {
    log.read_from(from)
        .expect("offset in range")
        .collect::<Result<_, _>>()
        .expect("the log reads back cleanly")
}

/// The segment files of the log in `dir`, oldest first.
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("log dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}
