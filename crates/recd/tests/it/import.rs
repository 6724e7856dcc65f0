//! `recd import` and `recd events tail` end to end on the dataset (MovieLens 100K, or generated
//! CSV files when `../shared` is absent) and on the protocol split of it.

use recd_store::{Store, StoreConfig};

use crate::protocol;
use crate::util::{arg, dataset, read_csv, recd_err, recd_ok};

#[test]
fn the_dataset_imports_all_of_it_and_tail_prints_the_last_records() {
    let ds = dataset();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let stdout = ds.import(&data);
    let (n_events, n_users, n_items) = (ds.n_events, ds.n_users, ds.n_items);
    assert!(
        stdout.starts_with(&format!(
            "imported {n_events} events, {n_users} users, {n_items} items (0 bad rows skipped) in "
        )),
        "{stdout}"
    );

    let tail = recd_ok(&["events", "tail", "--data-dir", arg(&data), "-n", "3"]);
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), 3, "{tail}");
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
    let last = ds.event_rows().pop().unwrap();
    if ds.is_ml100k {
        // The last line of u.data is `12	203	3	879959583`.
        assert!(
            lines[2].contains("rating\tuser=12 item=203 value=3"),
            "{tail}"
        );
        assert_eq!(
            value["record"]["Event"]["timestamp_ms"],
            879_959_583_000_i64
        );
    } else {
        // Events are imported last and in file order: the last record is the last line.
        let expected = format!("{}\tuser={} item={}", last.kind, last.user, last.item);
        assert!(lines[2].contains(&expected), "{expected:?} in {tail}");
    }
    assert_eq!(value["record"]["Event"]["timestamp_ms"], last.timestamp_ms);

    let store = Store::open(&data, StoreConfig::default()).unwrap();
    let catalog = store.catalog();
    assert_eq!(catalog.n_items().unwrap(), n_items as u64);
    assert_eq!(catalog.n_users().unwrap(), n_users as u64);
    if ds.is_ml100k {
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
    } else {
        // Every item arrives with its title, category and tags as the file has them.
        for row in ds.item_rows() {
            let item = catalog.get_item(&row.id).unwrap().unwrap();
            assert_eq!(
                (&item.title, &item.category, &item.tags),
                (&row.title, &row.category, &row.tags),
                "{row:?}"
            );
        }
    }
    // Items, users and events all went through the log.
    assert_eq!(
        store.log().end_offset(),
        (n_events + n_users + n_items) as u64
    );
}

#[test]
fn a_malformed_line_names_file_and_line_and_skip_bad_counts_it() {
    let ds = dataset();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let original = std::fs::read_to_string(&ds.users).unwrap();
    let mut lines: Vec<String> = original.lines().map(str::to_string).collect();
    // The fifth line gets the age "thirty"; the column is 1-based.
    let (users, column) = if ds.is_ml100k {
        lines[4] = "5|thirty|F|other|15213".to_string();
        (dir.path().join("u.user"), 2)
    } else {
        let (header, _) = read_csv(&ds.users);
        let age = header.iter().position(|h| h == "age").unwrap();
        let mut fields: Vec<&str> = lines[4].split(',').collect();
        fields[age] = "thirty";
        lines[4] = fields.join(",");
        (dir.path().join("users.csv"), age + 1)
    };
    std::fs::write(&users, lines.join("\n") + "\n").unwrap();

    let stderr = recd_err(&["import", "--data-dir", arg(&data), "--users", arg(&users)]);
    let expected = format!(
        "{}:5:{column}: field `age`: \"thirty\" is not an age in years",
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
        stdout.starts_with(&format!(
            "imported 0 events, {} users, 0 items (1 bad rows skipped)",
            ds.n_users - 1
        )),
        "{stdout}"
    );
}

#[test]
fn protocol_csv_from_the_split_then_catalog_into_the_same_dir() {
    let ds = dataset();
    let dir = tempfile::tempdir().unwrap();
    let split = dir.path().join("split");
    std::fs::create_dir_all(&split).unwrap();
    let (train, test) = protocol::split(ds, &split);
    if protocol::uses_shared_scripts(ds) {
        // The Rust split is split.py's rule: byte for byte the same files.
        let here = dir.path().join("here");
        std::fs::create_dir_all(&here).unwrap();
        let (train_here, test_here) = protocol::split_here(ds, &here);
        for (a, b) in [(&train, &train_here), (&test, &test_here)] {
            assert!(
                std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
                "{} and {} differ",
                a.display(),
                b.display()
            );
        }
    }
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
    let stdout = ds.import_catalog(&data);
    assert!(
        stdout.starts_with(&format!(
            "imported 0 events, {} users, {} items",
            ds.n_users, ds.n_items
        )),
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
    if ds.is_ml100k {
        assert_eq!(first.kind, recd_types::EventKind::Rating);
        // Seconds in the protocol CSV became milliseconds.
        assert_eq!(first.timestamp_ms % 1000, 0);
        assert!(first.timestamp_ms > 870_000_000_000);
    } else {
        // The first row of the split is the first record, kind and time as written.
        let row = crate::util::events_csv(&train).swap_remove(0);
        assert_eq!(
            (
                first.kind.as_str(),
                first.timestamp_ms,
                first.user_id.as_str()
            ),
            (row.kind.as_str(), row.timestamp_ms, row.user.as_str())
        );
    }
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
