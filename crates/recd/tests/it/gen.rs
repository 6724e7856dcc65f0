//! `recd gen` end to end: the real binary, temp dirs, byte-identical reruns, the store path.

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::path::Path;
use std::process::{Command, Output};

use recd_store::{Store, StoreConfig};
use recd_types::Record;

const FILES: [&str; 3] = ["items.csv", "users.csv", "events.csv"];

fn recd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recd"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the recd binary runs")
}

fn gen_into(out: &Path, seed: &str, threads: &str) -> String {
    let out = out.to_str().unwrap();
    let output = recd(&[
        "gen",
        "--users",
        "400",
        "--items",
        "300",
        "--events",
        "9000",
        "--seed",
        seed,
        "--threads",
        threads,
        "--out",
        out,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn checksum(path: &Path) -> u64 {
    let mut hasher = DefaultHasher::new();
    hasher.write(&std::fs::read(path).unwrap());
    hasher.finish()
}

#[test]
fn the_same_command_twice_writes_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    let summary = gen_into(&a, "5", "2");
    assert!(summary.contains("9000 events"), "{summary}");
    assert!(summary.contains("purchase"), "{summary}");
    gen_into(&b, "5", "1");
    for file in FILES {
        let (x, y) = (a.join(file), b.join(file));
        assert!(std::fs::metadata(&x).unwrap().len() > 0, "{file} is empty");
        assert_eq!(checksum(&x), checksum(&y), "{file} differs between runs");
        assert_eq!(std::fs::read(&x).unwrap(), std::fs::read(&y).unwrap());
    }
    let events = std::fs::read_to_string(a.join("events.csv")).unwrap();
    assert_eq!(
        events.lines().count(),
        9000 + 1,
        "header and one line per event"
    );
    gen_into(&c, "6", "2");
    assert_ne!(
        checksum(&a.join("events.csv")),
        checksum(&c.join("events.csv"))
    );
}

#[test]
fn a_data_dir_receives_items_users_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = recd(&[
        "gen",
        "--users",
        "200",
        "--items",
        "150",
        "--events",
        "3000",
        "--seed",
        "1",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let store = Store::open(&data, StoreConfig::default()).unwrap();
    let (mut items, mut users, mut events) = (0, 0, 0);
    let mut last_item_stamp = i64::MIN;
    for entry in store.log().read_from(0).unwrap() {
        match entry.unwrap().1 {
            Record::Item { at_ms, item } => {
                items += 1;
                assert!(
                    at_ms >= item.created_at_ms.unwrap(),
                    "stamped before creation"
                );
                assert!(at_ms >= last_item_stamp, "catalog batches oldest first");
                last_item_stamp = at_ms;
            }
            Record::User { at_ms, user } => {
                users += 1;
                assert!(at_ms >= user.signup_ms.unwrap());
            }
            Record::Event(_) => events += 1,
            Record::UserDeleted { .. } => panic!("gen deletes no user"),
            Record::Impression(_) => panic!("the event log holds no impression"),
        }
    }
    assert_eq!((items, users, events), (150, 200, 3000));
}

#[test]
fn bad_settings_are_refused_with_the_flag_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let out = out.to_str().unwrap();
    let base = ["gen", "--users", "10", "--items", "20", "--events", "50"];
    let cases: [(&[&str], &str); 5] = [
        (&["--end", "2024-02-30", "--out", out], "--end"),
        (&["--categories", "0", "--out", out], "categories"),
        (&["--device-effect", "inf", "--out", out], "device-effect"),
        (&["--days", "2", "--out", out], "days"),
        (&[], "--out"),
    ];
    for (extra, needle) in cases {
        let args: Vec<&str> = base.iter().chain(extra.iter()).copied().collect();
        let output = recd(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} should fail");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
