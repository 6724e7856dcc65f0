//! `recd import --server`: importing into a data dir that a running `recd serve` owns, and
//! the advice a local import or `recd gen` gets on such a dir.

use std::path::{Path, PathBuf};

use recd_store::{Store, StoreConfig};
use recd_types::{Event, Record};

use crate::util::{Server, arg, read_csv, recd, recd_err, recd_ok};

const N_USERS: usize = 120;
const N_ITEMS: usize = 80;
const N_EVENTS: usize = 3000;

/// `recd gen --out` files of the sizes above, in `dir`.
fn generated(dir: &Path) -> [PathBuf; 3] {
    let (users, items, events) = (
        N_USERS.to_string(),
        N_ITEMS.to_string(),
        N_EVENTS.to_string(),
    );
    let out = dir.join("files");
    recd_ok(&[
        "gen",
        "--users",
        &users,
        "--items",
        &items,
        "--events",
        &events,
        "--seed",
        "3",
        "--out",
        arg(&out),
    ]);
    ["events.csv", "items.csv", "users.csv"].map(|f| out.join(f))
}

fn file_flags([events, items, users]: &[PathBuf; 3]) -> Vec<&str> {
    vec![
        "--events",
        arg(events),
        "--items",
        arg(items),
        "--users",
        arg(users),
        "--format",
        "csv",
    ]
}

/// Every event of the data dir's log, in order, and the log's end offset.
fn logged_events(data: &Path) -> (Vec<Event>, u64) {
    let store = Store::open(data, StoreConfig::default()).unwrap();
    let events = store
        .log()
        .read_from(0)
        .unwrap()
        .filter_map(|r| match r.unwrap().1 {
            Record::Event(e) => Some(e),
            _ => None,
        })
        .collect();
    (events, store.log().end_offset())
}

#[test]
fn import_goes_through_the_server_and_a_local_import_on_its_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = generated(dir.path());
    let data = dir.path().join("data");
    let data_arg = arg(&data);
    // A server that takes fewer events per request than the import sends: requests split.
    let server = Server::spawn(
        &["serve", "--data-dir", data_arg, "--listen", "127.0.0.1:0"],
        &[("RECD__SERVE__MAX_EVENTS_PER_REQUEST", "400")],
    );
    let url = format!("http://{}", server.addr);

    let mut args = vec!["import", "--server", &url, "--batch-size", "1000"];
    args.extend(file_flags(&files));
    let stdout = recd_ok(&args);
    assert!(
        stdout.starts_with(&format!(
            "imported {N_EVENTS} events, {N_USERS} users, {N_ITEMS} items (0 bad rows skipped) in "
        )),
        "{stdout}"
    );
    let (status, page) = server.get("/v1/items?limit=1");
    assert_eq!(
        (status, page["total"].as_u64()),
        (200, Some(N_ITEMS as u64))
    );
    let (header, items) = read_csv(&files[1]);
    let title = header.iter().position(|c| c == "title").unwrap();
    for row in [&items[0], &items[N_ITEMS - 1]] {
        let (status, item) = server.get(&format!("/v1/items/{}", &row[0]));
        assert_eq!((status, item["title"].as_str()), (200, Some(&row[title])));
    }
    let (_, users) = read_csv(&files[2]);
    assert_eq!(users.len(), N_USERS);
    for row in &users {
        assert_eq!(server.get(&format!("/v1/users/{}", &row[0])).0, 200);
    }

    // A local import or gen on the live dir says what to do and writes nothing.
    let mut args = vec!["import", "--data-dir", data_arg];
    args.extend(file_flags(&files));
    let stderr = recd_err(&args);
    let in_use =
        format!("data dir {data_arg} is in use by another recd process (probably `recd serve`): ");
    assert!(
        stderr.contains(&format!(
            "{in_use}import through it with `recd import --server http://HOST:PORT ...`, or stop it first"
        )),
        "{stderr}"
    );
    let stderr = recd_err(&[
        "gen",
        "--users",
        "5",
        "--items",
        "5",
        "--events",
        "5",
        "--data-dir",
        data_arg,
    ]);
    assert!(
        stderr.contains(&format!("{in_use}stop it first, or use another data dir")),
        "{stderr}"
    );
    server.stop();

    // The server's log holds what a local import writes: the same events in the same order,
    // after one record per item and per user.
    let local = dir.path().join("local");
    let mut args = vec!["import", "--data-dir", arg(&local)];
    args.extend(file_flags(&files));
    recd_ok(&args);
    let (served, served_end) = logged_events(&data);
    let (imported, imported_end) = logged_events(&local);
    assert_eq!(served_end, (N_EVENTS + N_USERS + N_ITEMS) as u64);
    assert_eq!(served_end, imported_end);
    assert!(
        served == imported,
        "the server logged other events than a local import"
    );
}

#[test]
fn a_refused_request_names_the_file_the_batch_and_the_server_answer() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::spawn(
        &["serve", "--data-dir", arg(&data), "--listen", "127.0.0.1:0"],
        &[("RECD__SERVE__MAX_BODY_BYTES", "400")],
    );
    let url = format!("http://{}", server.addr);
    let items = dir.path().join("items.csv");
    let long_title = "x".repeat(600);
    std::fs::write(&items, format!("item_id,title\na,short\nb,{long_title}\n")).unwrap();
    let stderr = recd_err(&[
        "import",
        "--server",
        &url,
        "--items",
        arg(&items),
        "--format",
        "csv",
    ]);
    for part in [
        &format!(
            "importing items through {url}: {}: batch 1 (records 1 to 2; the 0 before it were imported)",
            items.display()
        ),
        &format!(
            "PUT {url}/v1/items/b answered 413 Payload Too Large: {{\"error\":{{\"code\":\"payload_too_large\""
        ),
    ] {
        assert!(stderr.contains(part.as_str()), "{part:?} in {stderr}");
    }
    assert_eq!(server.get("/v1/items/a").0, 200);

    // With --no-check, a bad row stops the import there, the batches before it sent.
    let events = dir.path().join("events.csv");
    std::fs::write(
        &events,
        "user_id,item_id,type,timestamp_ms\nu1,a,view,1700000000001\nu1,a,click,1700000000002\nu2,a,view,nope\n",
    )
    .unwrap();
    let output = recd(&[
        "import",
        "--server",
        &url,
        "--events",
        arg(&events),
        "--format",
        "csv",
        "--no-check",
        "--batch-size",
        "2",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!("{}:4:4: field `timestamp_ms`", events.display());
    assert!(stderr.contains(&expected), "{expected:?} in {stderr}");
    let metrics = server.get_text("/metrics");
    assert!(
        metrics.lines().any(|l| l == "recd_events_accepted_total 2"),
        "{metrics}"
    );
    server.stop();
}

#[test]
fn data_dir_and_server_are_one_or_the_other() {
    let both = recd_err(&[
        "import",
        "--data-dir",
        "d",
        "--server",
        "http://127.0.0.1:1",
        "--events",
        "e.csv",
    ]);
    assert!(both.contains("cannot be used with"), "{both}");
    let neither = recd_err(&["import", "--events", "e.csv"]);
    assert!(
        neither.contains("--data-dir <DATA_DIR>|--server <SERVER>"),
        "{neither}"
    );
    let https = recd_err(&[
        "import",
        "--server",
        "https://example.com",
        "--events",
        "e.csv",
    ]);
    assert!(https.contains("expected http://HOST:PORT"), "{https}");
}
