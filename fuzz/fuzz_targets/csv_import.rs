//! `recd import --format csv` (events, items, users) and `movielens-csv`: every file is read
//! to its end, every error names the file, never a panic.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use recd_io::{Format, read_events, read_items, read_users};

fuzz_target!(|bytes: &[u8]| {
    let path = common::scratch("in.csv", bytes);
    common::read_all(&path, |p| read_events(p, Format::Csv));
    common::read_all(&path, |p| read_items(p, Format::Csv));
    common::read_all(&path, |p| read_users(p, Format::Csv));
    common::read_all(&path, |p| read_events(p, Format::MovielensCsv));
});
