//! `recd import` and `recd events tail` end to end on MovieLens 100K and the protocol CSV.

use std::process::Command;

use recd_store::{Store, StoreConfig};

use crate::util::{arg, ml100k, recd_err, recd_ok, shared_dir};

#[test]
fn ml100k_imports_all_of_it_and_tail_prints_the_last_records() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (events, items, users) = (ml100k("u.data"), ml100k("u.item"), ml100k("u.user"));
    let stdout = recd_ok(&[
        "import",
        "--data-dir",
        arg(&data),
        "--events",
        arg(&events),
        "--items",
        arg(&items),
        "--users",
        arg(&users),
        "--format",
        "ml100k",
    ]);
    assert!(
        stdout
            .starts_with("imported 100000 events, 943 users, 1682 items (0 bad rows skipped) in "),
        "{stdout}"
    );

    let tail = recd_ok(&["events", "tail", "--data-dir", arg(&data), "-n", "3"]);
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), 3, "{tail}");
    // The last line of u.data is `12	203	3	879959583`.
    assert!(
        lines[2].contains("rating\tuser=12 item=203 value=3"),
        "{tail}"
    );
    let json = recd_ok(&[
        "events",
        "tail",
        "--data-dir",
        arg(&data),
        "-n",
        "1",
        "--json",
    ]);
    let value: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(
        value["record"]["Event"]["timestamp_ms"],
        879_959_583_000_i64
    );

    let store = Store::open(&data, StoreConfig::default()).unwrap();
    let catalog = store.catalog();
    assert_eq!(catalog.n_items().unwrap(), 1682);
    assert_eq!(catalog.n_users().unwrap(), 943);
    let star_wars = catalog.get_item("50").unwrap().unwrap();
    assert_eq!(star_wars.title, "Star Wars (1977)");
    assert!(
        star_wars.tags.iter().any(|t| t == "Sci-Fi"),
        "{star_wars:?}"
    );
    let unknown = catalog.get_item("267").unwrap().unwrap();
    assert_eq!(
        (unknown.title.as_str(), unknown.created_at_ms),
        ("unknown", None)
    );
    let latin1 = catalog.get_item("543").unwrap().unwrap();
    assert_eq!(latin1.title, "Misérables, Les (1995)");
    // Items, users and events all went through the log.
    assert_eq!(store.log().end_offset(), 100_000 + 943 + 1682);
}

#[test]
fn a_malformed_line_names_file_and_line_and_skip_bad_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let original = std::fs::read_to_string(ml100k("u.user")).unwrap();
    let mut lines: Vec<&str> = original.lines().collect();
    lines[4] = "5|thirty|F|other|15213";
    let users = dir.path().join("u.user");
    std::fs::write(&users, lines.join("\n") + "\n").unwrap();

    let stderr = recd_err(&["import", "--data-dir", arg(&data), "--users", arg(&users)]);
    let expected = format!(
        "{}:5:2: field `age`: \"thirty\" is not an age in years",
        users.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    // Nothing of the bad file was written.
    let store = Store::open(&data, StoreConfig::default()).unwrap();
    assert_eq!(store.catalog().n_users().unwrap(), 0);
    drop(store);

    let stdout = recd_ok(&[
        "import",
        "--data-dir",
        arg(&data),
        "--users",
        arg(&users),
        "--skip-bad",
    ]);
    assert!(
        stdout.starts_with("imported 0 events, 942 users, 0 items (1 bad rows skipped)"),
        "{stdout}"
    );
}

#[test]
fn protocol_csv_from_split_py_then_catalog_into_the_same_dir() {
    let dir = tempfile::tempdir().unwrap();
    let split = dir.path().join("split");
    let status = Command::new("python3")
        .arg(shared_dir().join("bench/split.py"))
        .args([
            "--input",
            arg(&ml100k("u.data")),
            "--format",
            "ml100k",
            "--out",
            arg(&split),
        ])
        .output()
        .expect("python3 runs (CI installs it)");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let train = split.join("train.csv");
    let n_train = std::fs::read_to_string(&train).unwrap().lines().count() - 1;

    let data = dir.path().join("data");
    let stdout = recd_ok(&[
        "import",
        "--data-dir",
        arg(&data),
        "--events",
        arg(&train),
        "--format",
        "csv",
    ]);
    assert!(
        stdout.starts_with(&format!("imported {n_train} events, 0 users, 0 items")),
        "{stdout}"
    );
    let stdout = recd_ok(&[
        "import",
        "--data-dir",
        arg(&data),
        "--items",
        arg(&ml100k("u.item")),
        "--users",
        arg(&ml100k("u.user")),
        "--format",
        "ml100k",
    ]);
    assert!(
        stdout.starts_with("imported 0 events, 943 users, 1682 items"),
        "{stdout}"
    );

    let tail = recd_ok(&["events", "tail", "--data-dir", arg(&data), "-n", "1"]);
    assert!(
        tail.contains("\tuser\tid="),
        "the last record is a profile: {tail}"
    );
    let store = Store::open(&data, StoreConfig::default()).unwrap();
    let first = store.log().read_from(0).unwrap().next().unwrap().unwrap().1;
    let recd_types::Record::Event(first) = first else {
        panic!("the first record is an event: {first:?}")
    };
    assert_eq!(first.kind, recd_types::EventKind::Rating);
    // Seconds in the protocol CSV became milliseconds.
    assert_eq!(first.timestamp_ms % 1000, 0);
    assert!(first.timestamp_ms > 870_000_000_000);
}

#[test]
fn unknown_columns_and_formats_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let events = dir.path().join("events.csv");
    std::fs::write(&events, "user_id,item_id,ratting,timestamp\n1,2,3,4\n").unwrap();
    let stderr = recd_err(&["import", "--data-dir", arg(&data), "--events", arg(&events)]);
    assert!(stderr.contains("unknown column(s) `ratting`"), "{stderr}");
    assert!(stderr.contains(arg(&events)), "{stderr}");
    let odd = dir.path().join("events.txt");
    std::fs::write(&odd, "x").unwrap();
    let stderr = recd_err(&["import", "--data-dir", arg(&data), "--events", arg(&odd)]);
    assert!(
        stderr.contains("events.txt: cannot tell the format"),
        "{stderr}"
    );
}
