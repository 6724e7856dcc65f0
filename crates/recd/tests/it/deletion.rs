//! Deleting a user's data with the real binary: `DELETE /v1/users/{id}` removes the profile
//! and the features at once, leaves a tombstone that `recd events tail` shows, and training and
//! export leave the user's events out from then on.

use std::collections::HashSet;
use std::path::Path;

use recd_store::{EventLog, Store};
use recd_types::Record;
use serde_json::json;

use crate::util::{Server, arg, recd_ok, small_data};

/// The user of the first event in the log of `data`.
fn some_user(data: &Path) -> String {
    let log = Store::open_log_reader(data).unwrap();
    log.read_from(0)
        .unwrap()
        .find_map(|r| match r.unwrap().1 {
            Record::Event(e) => Some(e.user_id.to_string()),
            _ => None,
        })
        .expect("the data dir has events")
}

/// The user ids of the current model of `data`.
fn model_users(data: &Path) -> HashSet<String> {
    let current = std::fs::read_to_string(data.join("models/CURRENT")).unwrap();
    let ids = data.join("models").join(current.trim()).join("users.ids");
    std::fs::read_to_string(ids)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Every user id of the events exported under `out`.
fn exported_users(out: &Path) -> Vec<String> {
    let mut users = Vec::new();
    for day in std::fs::read_dir(out).unwrap() {
        let day = day.unwrap();
        if !day.file_name().to_string_lossy().starts_with("date=") {
            continue;
        }
        for part in std::fs::read_dir(day.path()).unwrap() {
            let part = part.unwrap().path();
            for event in recd_io::read_events(&part, recd_io::Format::Auto).unwrap() {
                users.push(event.unwrap().user_id.to_string());
            }
        }
    }
    users
}

#[test]
fn a_deleted_user_is_gone_from_serving_training_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    small_data(&data, true);
    let user = some_user(&data);
    assert!(model_users(&data).contains(&user), "trained before");

    let serve = Server::start(&data, &[]);
    let profile = format!("/v1/users/{user}");
    let features = format!("{profile}/features");
    assert_eq!(serve.get(&profile).0, 200, "gen wrote a profile");
    let view = json!({"user_id": user, "item_id": "i1", "type": "view"});
    assert_eq!(
        serve.request("POST", "/v1/events", &view.to_string()).0,
        202
    );
    serve.wait_until(|| serve.get(&features).0 == 200, "with features");

    let (status, body) = serve.request_text("DELETE", &profile, "");
    assert_eq!((status, body.as_str()), (204, ""));
    assert_eq!(serve.get(&profile).0, 404);
    assert_eq!(serve.get(&features).0, 404, "features gone at once");
    let (status, body) = serve.request("DELETE", "/v1/users/never-seen", "");
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("not_found"))
    );
    serve.stop();

    // After a restart (the embedded store is rebuilt from the log), still gone.
    let serve = Server::start(&data, &[]);
    assert_eq!(
        serve.get(&features).0,
        404,
        "the replay applied the tombstone"
    );
    assert_eq!(serve.get(&profile).0, 404);
    serve.stop();

    let tail = recd_ok(&["events", "tail", "--data-dir", arg(&data), "-n", "1"]);
    assert!(
        tail.trim_end()
            .ends_with(&format!("user_deleted\tid={user}")),
        "{tail}"
    );

    recd_ok(&["train", "--data-dir", arg(&data), "--force"]);
    let users = model_users(&data);
    assert!(
        !users.contains(&user),
        "the new model has no row for {user}"
    );
    assert!(users.len() > 100, "the others are still there");

    let out = dir.path().join("lake");
    recd_ok(&["export", "--data-dir", arg(&data), "--out", arg(&out)]);
    let exported = exported_users(&out);
    assert!(exported.len() > 10_000);
    assert!(!exported.contains(&user), "no event of {user} exported");
}
