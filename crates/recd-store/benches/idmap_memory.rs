//! Resident memory of an id map: how much `IdMap` holds per id, which no memory budget covers.
//!
//! Interns `N` ids shaped like a flood's (`flood-u<n>`, 13 bytes for the millionth) in batches
//! of 10,000, as ingest does. Prints one JSON line: resident memory grown (`VmRSS`), in bytes
//! and per id. (Reopening in the same process would reuse the freed pages and read low.) The process's allocator is the
//! system one (the server uses mimalloc), so read the figures as close, not exact.
//!
//! ```text
//! cargo bench -p recd-store --bench idmap_memory -- 1000000
//! ```

use recd_store::IdMap;

fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
            line.split_whitespace().next()?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib << 10)
}

fn main() {
    // `cargo bench` passes `--bench` to every bench binary; it means nothing here.
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("users");
    let map = IdMap::open(&path).expect("open the id map");
    // The ids are made before the first reading, so only what the map holds is counted.
    let ids: Vec<String> = (0..n).map(|i| format!("flood-u{i}")).collect();
    let interned_before = resident_bytes();
    for chunk in ids.chunks(10_000) {
        map.intern(chunk.iter().map(String::as_str))
            .expect("intern");
    }
    let grown = resident_bytes().saturating_sub(interned_before);
    drop(ids);
    println!(
        "{{\"ids\":{n},\"resident_bytes\":{grown},\"bytes_per_id\":{:.1}}}",
        grown as f64 / n.max(1) as f64
    );
}
