//! `recd import --format jsonl` (events, items, users): every file is read to its end, every
//! error names the file, never a panic.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use recd_io::{Format, read_events, read_items, read_users};

fuzz_target!(|bytes: &[u8]| {
    let path = common::scratch("in.jsonl", bytes);
    common::read_all(&path, |p| read_events(p, Format::Jsonl));
    common::read_all(&path, |p| read_items(p, Format::Jsonl));
    common::read_all(&path, |p| read_users(p, Format::Jsonl));
});
