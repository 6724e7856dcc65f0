//! Query strings: a map with as many names as pairs, or a 4xx error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    // The URI parser hands the reader text; lossy conversion keeps every input useful.
    recd_serve::fuzzing::query_string(&String::from_utf8_lossy(bytes));
});
