//! Idempotent ingest with the real binary: a batch retried with event ids or with an
//! `Idempotency-Key` is appended once, also after a restart (the window is rebuilt from the
//! log), and a file with an `event_id` column imported twice is counted once.

use recd_store::{EventLog, Store};
use serde_json::{Value, json};

use crate::util::{Server, arg, recd_ok};

fn log_len(data: &std::path::Path) -> u64 {
    Store::open_log_reader(data).unwrap().end_offset()
}

fn post(serve: &Server, headers: &[(&str, &str)], body: &str) -> Value {
    let (status, _, text) = serve.request_with("POST", "/v1/events", body, headers);
    assert_eq!(status, 202, "{text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn retried_batches_are_appended_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let with_ids = json!([
        {"user_id": "u1", "item_id": "i1", "type": "view", "event_id": "a-1"},
        {"user_id": "u2", "item_id": "i2", "type": "click", "event_id": "a-2"},
    ])
    .to_string();
    let keyed = json!([
        {"user_id": "u1", "item_id": "i3", "type": "view"},
        {"user_id": "u3", "item_id": "i1", "type": "like"},
    ])
    .to_string();
    let key = [("Idempotency-Key", "batch-42")];

    let serve = Server::start(&data, &[]);
    let first = post(&serve, &[], &with_ids);
    assert_eq!(
        (first["first_offset"].clone(), first["duplicates"].clone()),
        (json!(0), json!(0))
    );
    let again = post(&serve, &[], &with_ids);
    assert_eq!(again["duplicates"], 2);
    assert_eq!(again["offsets"], json!([0, 1]));
    let first_keyed = post(&serve, &key, &keyed);
    assert_eq!(first_keyed["first_offset"], 2);
    let again_keyed = post(&serve, &key, &keyed);
    assert_eq!(again_keyed["offsets"], json!([2, 3]));
    serve.stop();
    assert_eq!(log_len(&data), 4, "each batch once");

    // A new process rebuilds the window from the log's tail.
    let serve = Server::start(&data, &[]);
    assert_eq!(post(&serve, &[], &with_ids)["offsets"], json!([0, 1]));
    assert_eq!(post(&serve, &key, &keyed)["offsets"], json!([2, 3]));
    serve.stop();
    assert_eq!(log_len(&data), 4);

    let tail = recd_ok(&["events", "tail", "--data-dir", arg(&data), "-n", "4"]);
    assert!(
        tail.contains("event_id=a-1") && tail.contains("event_id=batch-42#1"),
        "{tail}"
    );
}

#[test]
fn a_file_with_event_ids_imported_twice_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("events.csv");
    std::fs::write(
        &file,
        "user_id,item_id,type,timestamp_ms,event_id\n\
         u1,i1,view,1704067200000,e1\n\
         u1,i2,click,1704067201000,e2\n\
         u2,i1,purchase,1704067202000,e3\n",
    )
    .unwrap();
    let import = || recd_ok(&["import", "--data-dir", arg(&data), "--events", arg(&file)]);
    let first = import();
    assert!(first.starts_with("imported 3 events"), "{first}");
    let second = import();
    assert!(
        second.starts_with("imported 0 events")
            && second.contains("3 events already imported skipped"),
        "{second}"
    );
    assert_eq!(log_len(&data), 3);

    // Through a running server, the same rows are duplicates of the log's ids too.
    let serve = Server::start(&data, &[]);
    let url = format!("http://{}", serve.addr);
    let third = recd_ok(&["import", "--server", &url, "--events", arg(&file)]);
    assert!(
        third.contains("3 events already imported skipped"),
        "{third}"
    );
    serve.stop();
    assert_eq!(log_len(&data), 3);
}
