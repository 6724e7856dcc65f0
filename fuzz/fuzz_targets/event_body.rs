//! `POST /v1/events` bodies (JSON, array, NDJSON) and item/profile bodies: a value or a 4xx
//! error, never a panic (`recd_serve::fuzzing::event_body` checks the status).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| recd_serve::fuzzing::event_body(bytes));
