//! End to end on ml-100k with the real binary: import, train once, then `recd serve` answers
//! `GET /v1/recommendations` and `GET /v1/items/{id}/similar` (the online layer's checks): a
//! known user never gets a rated item back, an unknown user gets popular items with reasons, a new user
//! who views three science-fiction films gets a list far more sci-fi than the catalog, Star
//! Wars' neighbours include its two sequels, and a model swap under load fails no request.
//!
//! Without `../shared` the same checks run on generated data ([`Facts`]): the films become the
//! data's own most popular item and three popular items of a small category, and "its sequels"
//! becomes "mostly its own category".

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::util::{Server, arg, dataset, recd_ok};

/// A generous deadline: these tests check answers, not latency, and run beside other tests
/// on two cores. The deadline fallback has its own test with a deadline of zero.
/// The reasons speak of films ("because you watched X"), as a film catalog would configure.
/// `[serve.recommend]` comes last, so that tests can append keys to it.
const TEST_CONFIG: &str = "[serve.recommend.reasons]\nview = \"watched\"\nrating = \"watched\"\nhistory = \"watched\"\n\
     [serve.recommend]\ndeadline_ms = 10000\nmodel_poll_ms = 100\ncatalog_refresh_ms = 200\n";

/// What the tests ask of the dataset: named on ml-100k, found in the data when generated.
struct Facts {
    /// User ids in file order.
    users: Vec<String>,
    /// Items each user has an event with.
    seen: HashMap<String, HashSet<String>>,
    /// The item with the most users (ml-100k: Star Wars, "50").
    most_popular: String,
    /// A category with few items (ml-100k: the Sci-Fi genre) and the items in it.
    category: String,
    category_items: HashSet<String>,
    /// Three popular items of `category` (ml-100k: Star Trek: First Contact, VI and II).
    viewed: [String; 3],
    /// Their titles.
    viewed_titles: Vec<String>,
    /// A different, large category (ml-100k: Comedy) and an item of it.
    other_category: String,
    other_item: String,
    /// Number of items.
    n_items: usize,
}

fn facts() -> &'static Facts {
    static FACTS: OnceLock<Facts> = OnceLock::new();
    FACTS.get_or_init(|| {
        let ds = dataset();
        let items = ds.item_rows();
        let popular = ds.by_popularity();
        let title = |id: &str| items.iter().find(|i| i.id == id).unwrap().title.clone();
        let (category, category_items, viewed, other_category, other_item) = if ds.is_ml100k {
            let sci_fi = items
                .iter()
                .filter(|i| i.tags.iter().any(|t| t == "Sci-Fi"))
                .map(|i| i.id.clone())
                .collect();
            let viewed = ["222", "227", "228"].map(str::to_string);
            (
                "Sci-Fi".to_string(),
                sci_fi,
                viewed,
                "Comedy".to_string(),
                "1".to_string(),
            )
        } else {
            // The smallest category of at least 20 items (ties by name), the largest.
            let mut sizes: HashMap<&str, usize> = HashMap::new();
            for c in items.iter().filter_map(|i| i.category.as_deref()) {
                *sizes.entry(c).or_default() += 1;
            }
            let mut by_size: Vec<(usize, &str)> = sizes.into_iter().map(|(c, n)| (n, c)).collect();
            by_size.sort();
            let small = by_size
                .iter()
                .find(|(n, _)| *n >= 20)
                .unwrap()
                .1
                .to_string();
            let large = by_size.last().unwrap().1.to_string();
            let of = |c: &str| -> Vec<String> {
                let members: HashSet<&str> = items
                    .iter()
                    .filter(|i| i.category.as_deref() == Some(c))
                    .map(|i| i.id.as_str())
                    .collect();
                popular
                    .iter()
                    .filter(|i| members.contains(i.as_str()))
                    .cloned()
                    .collect()
            };
            let small_items = of(&small);
            let viewed = [0, 1, 2].map(|k| small_items[k].clone());
            let members = items
                .iter()
                .filter(|i| i.category.as_deref() == Some(small.as_str()))
                .map(|i| i.id.clone())
                .collect();
            let other_item = of(&large)[0].clone();
            (small, members, viewed, large, other_item)
        };
        Facts {
            users: ds.user_ids(),
            seen: ds.seen(),
            most_popular: popular[0].clone(),
            category,
            category_items,
            viewed_titles: viewed.iter().map(|v| title(v)).collect(),
            viewed,
            other_category,
            other_item,
            n_items: ds.n_items,
        }
    })
}

/// One imported and trained data dir per test binary run (training takes a minute or two on
/// ml-100k); each test serves its own copy (a data dir has one writer at a time).
fn trained() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        dataset().import(&data);
        recd_ok(&["train", "--data-dir", arg(&data)]);
        std::fs::write(dir.path().join("recd.toml"), TEST_CONFIG).unwrap();
        dir
    })
    .path()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A private copy of the trained data dir and its config.
pub(crate) fn trained_copy() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(trained(), tmp.path());
    let (data, config) = (tmp.path().join("data"), tmp.path().join("recd.toml"));
    (tmp, data, config)
}

/// `GET /v1/recommendations` that must succeed; returns the body.
fn recommend(server: &Server, query: &str) -> Value {
    let (status, body) = server.get(&format!("/v1/recommendations?{query}"));
    assert_eq!(status, 200, "{query}: {body}");
    body
}

fn item_ids(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {body}"))
        .iter()
        .map(|i| i["item_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn known_users_never_get_a_rated_item_and_every_item_has_a_reason() {
    let (_tmp, data, config) = trained_copy();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let facts = facts();
    for user in facts.users.iter().step_by(23) {
        let body = recommend(
            &server,
            &format!("user_id={user}&num_results=20&context=homepage"),
        );
        let seen = &facts.seen[user];
        let items = item_ids(&body);
        assert_eq!(items.len(), 20, "{body}");
        assert!(
            items.iter().all(|i| !seen.contains(i)),
            "user {user} got a rated item: {body}"
        );
        assert_eq!(body["fallback"], json!(false), "{body}");
        assert!(body["model_version"].is_string(), "{body}");
        for item in body["items"].as_array().unwrap() {
            assert!(!item["reason"].as_str().unwrap().is_empty(), "{item}");
            assert!(item["score"].is_number() && item["source"].is_string());
        }
    }
    // Ratings explain themselves by title for at least some users.
    let first = &facts.users[0];
    let body = recommend(&server, &format!("user_id={first}"));
    assert!(
        body["items"].as_array().unwrap().iter().any(|i| i["reason"]
            .as_str()
            .unwrap()
            .starts_with("because you watched ")),
        "{body}"
    );
    // The seed's alias answers the same way.
    assert_eq!(
        server.get(&format!("/recommendations?user_id={first}")).0,
        200
    );
}

#[test]
fn an_unknown_user_gets_popular_items_with_reasons() {
    let (_tmp, data, config) = trained_copy();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let body = recommend(&server, "user_id=stranger&num_results=10");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 10, "{body}");
    let reasons: HashSet<&str> = items
        .iter()
        .map(|i| i["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().all(|r| *r == "popular"
            || r.starts_with("trending")
            || r.starts_with("something different: ")),
        "{body}"
    );
    // The exploration slot says it is one.
    assert!(
        items
            .iter()
            .filter(|i| i["source"] == "exploration")
            .all(|i| i["reason"]
                .as_str()
                .unwrap()
                .starts_with("something different")),
        "{body}"
    );
    // Star Wars is the most rated film of ml-100k (and generated data has its own most
    // popular item): a popular list without it is not popular.
    let facts = facts();
    let ids = item_ids(&body);
    assert!(ids.contains(&facts.most_popular), "{body}");
    // A profile without history: the demographic segment and declared interests count.
    let interest = if dataset().is_ml100k {
        "Romance"
    } else {
        facts.category.as_str()
    };
    let profile = json!({"age": 22, "gender": "female", "interests": [interest]});
    let (status, body) = server.request("PUT", "/v1/users/newfan", &profile.to_string());
    assert_eq!(status, 200, "{body}");
    let body = recommend(&server, "user_id=newfan&num_results=20");
    let reasons: HashSet<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains("popular with people like you")
            && reasons.contains(format!("trending in {interest}").as_str()),
        "{body}"
    );
    // A category context gives that category's popular items.
    let body = recommend(
        &server,
        &format!(
            "user_id=stranger&num_results=5&category={}",
            facts.other_category
        ),
    );
    assert_eq!(item_ids(&body).len(), 5, "{body}");
    // Bad parameters are 400s naming the field.
    for (query, field) in [
        ("num_results=5", "user_id"),
        ("user_id=1&num_results=0", "num_results"),
        ("user_id=1&num_results=x", "num_results"),
        ("user_id=1&category=Nope", "category"),
        ("user_id=1&colour=red", "colour"),
        ("user_id=1&context=a%20b", "context"),
    ] {
        let (status, body) = server.get(&format!("/v1/recommendations?{query}"));
        assert_eq!(
            (status, &body["error"]["field"]),
            (400, &json!(field)),
            "{query}: {body}"
        );
    }
    assert_eq!(server.get("/v1/items/nope/similar").0, 404);
    let (status, body) = server.get(&format!(
        "/v1/items/{}/similar?num_results=1000",
        facts.most_popular
    ));
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("num_results"))
    );
}

#[test]
fn an_offset_pages_through_one_ranked_list() {
    let (_tmp, data, config) = trained_copy();
    // Never degrade (at half the deadline or more): a request that found the compute threads
    // behind, as they are beside other tests, would be ranked by the light ranker instead.
    let never_degrade = format!("{TEST_CONFIG}degrade_after_ms = 5000\n");
    std::fs::write(&config, never_degrade).unwrap();
    let server = Server::start(&data, &["--config", arg(&config)]);
    // The same request id and depth (num_results + offset) rank the same list, exploration
    // slots included: the page is its tail.
    let whole = recommend(&server, "user_id=1&num_results=10&request_id=p1");
    let tail = recommend(&server, "user_id=1&num_results=4&offset=6&request_id=p1");
    for body in [&whole, &tail] {
        assert_eq!(body["fallback"], json!(false), "{body}");
        assert_eq!(body["degraded"], json!(false), "{body}");
    }
    assert_eq!(item_ids(&tail), item_ids(&whole)[6..], "{whole}\n{tail}");
    let (status, body) = server.get("/v1/recommendations?user_id=1&num_results=150&offset=51");
    assert_eq!((status, &body["error"]["field"]), (400, &json!("offset")));
}

#[test]
fn a_new_user_who_views_three_sci_fi_films_gets_mostly_sci_fi() {
    let (_tmp, data, config) = trained_copy();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let facts = facts();
    let viewed = &facts.viewed; // Star Trek: First Contact, VI, II on ml-100k
    for item in viewed {
        let event = json!({"user_id": "trekkie", "item_id": item, "type": "view"});
        let (status, body) = server.request("POST", "/v1/events", &event.to_string());
        assert_eq!(status, 202, "{body}");
    }
    server.wait_until(
        || {
            let (_, f) = server.get("/v1/users/trekkie/features");
            f["recent_views"].as_array().is_some_and(|v| v.len() == 3)
        },
        "showing three views",
    );
    let body = recommend(&server, "user_id=trekkie&num_results=20");
    let items = item_ids(&body);
    assert_eq!(items.len(), 20, "{body}");
    assert!(
        viewed.iter().all(|v| !items.contains(&v.to_string())),
        "{body}"
    );
    let in_category = &facts.category_items;
    let share = items.iter().filter(|i| in_category.contains(*i)).count() as f64 / 20.0;
    let catalog_share = in_category.len() as f64 / facts.n_items as f64;
    assert!(
        share >= 4.0 * catalog_share,
        "{} share {share:.2} vs catalog {catalog_share:.3}: {body}",
        facts.category
    );
    let reasons: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reason"].as_str().unwrap())
        .collect();
    if dataset().is_ml100k {
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with("because you watched Star Trek")),
            "{body}"
        );
    }
    assert!(
        reasons.iter().any(|r| facts
            .viewed_titles
            .iter()
            .any(|t| *r == format!("because you watched {t}"))),
        "a reason names a viewed item: {body}"
    );
}

/// `recd_catalog_view_builds_total` from /metrics (0 before the first build).
fn catalog_view_builds(server: &Server) -> f64 {
    let text = server.get_text("/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix("recd_catalog_view_builds_total "))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[test]
fn an_item_added_after_training_gets_a_new_arrival_slot_matched_to_the_user() {
    let (_tmp, data, config) = trained_copy();
    let server = Server::start(&data, &["--config", arg(&config)]);
    // An unchanged catalog is not scanned again (the view is rebuilt only after a write).
    let builds = || catalog_view_builds(&server);
    let before = builds();
    assert!(before >= 1.0, "the view is built at start");
    std::thread::sleep(std::time::Duration::from_millis(1_000)); // 5 refresh periods
    assert_eq!(builds(), before, "no item was written: no rebuild");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let facts = facts();
    let new_items = if dataset().is_ml100k {
        [
            (
                "new-trek",
                json!({"title": "Star Trek: Nemesis (2002)", "category": "Action",
                       "tags": ["Action", "Adventure", "Sci-Fi"], "created_at": now_ms}),
            ),
            (
                "new-toon",
                json!({"title": "Pocahontas II (1998)", "category": "Animation",
                       "tags": ["Animation", "Children's", "Musical"], "created_at": now_ms - 1}),
            ),
        ]
    } else {
        // "new-trek" is like the viewed items, "new-toon" like an item of another category.
        let items = dataset().item_rows();
        let like = |id: &str| items.iter().find(|i| i.id == id).unwrap().clone();
        let (trek, toon) = (like(&facts.viewed[0]), like(&facts.other_item));
        [
            (
                "new-trek",
                json!({"title": format!("New {}", trek.title), "category": trek.category,
                       "tags": trek.tags, "created_at": now_ms}),
            ),
            (
                "new-toon",
                json!({"title": format!("New {}", toon.title), "category": toon.category,
                       "tags": toon.tags, "created_at": now_ms - 1}),
            ),
        ]
    };
    for (id, item) in &new_items {
        let (status, body) = server.request("PUT", &format!("/v1/items/{id}"), &item.to_string());
        assert!(status == 200 || status == 201, "{status} {body}");
    }
    for item in &facts.viewed {
        let event = json!({"user_id": "trekkie2", "item_id": item, "type": "view"});
        let (status, body) = server.request("POST", "/v1/events", &event.to_string());
        assert_eq!(status, 202, "{body}");
    }
    // The catalog view is rebuilt every 200 ms here; the features follow the log.
    let mut last = Value::Null;
    server.wait_until(
        || {
            last = recommend(&server, "user_id=trekkie2&num_results=20");
            item_ids(&last).contains(&"new-trek".to_string())
        },
        "the new Star Trek film in the trekkie's list",
    );
    assert!(builds() > before, "the writes were picked up by a rebuild");
    let ids = item_ids(&last);
    assert_eq!(ids.len(), 20, "{last}");
    assert!(
        !ids.contains(&"new-toon".to_string()),
        "one slot, the closer item: {last}"
    );
    let slot = last["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item_id"] == "new-trek")
        .unwrap();
    assert_eq!(slot["reason"], "new arrival", "{last}");
    assert_eq!(slot["source"], "new_arrivals", "{last}");
    // A user with no history gets the newest of them.
    let cold = recommend(&server, "user_id=somebody-new&num_results=20");
    assert!(item_ids(&cold).contains(&"new-trek".to_string()), "{cold}");
    // Once seen, it is not offered again.
    let event = json!({"user_id": "trekkie2", "item_id": "new-trek", "type": "view"});
    assert_eq!(
        server.request("POST", "/v1/events", &event.to_string()).0,
        202
    );
    server.wait_until(
        || {
            let body = recommend(&server, "user_id=trekkie2&num_results=20");
            !item_ids(&body).contains(&"new-trek".to_string())
        },
        "the viewed new item to leave the list",
    );
}

#[test]
fn similar_items_of_star_wars_include_its_sequels() {
    let (_tmp, data, config) = trained_copy();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let facts = facts();
    let item = &facts.most_popular;
    let (status, body) = server.get(&format!("/v1/items/{item}/similar?num_results=10"));
    assert_eq!(status, 200, "{body}");
    let ids = item_ids(&body);
    assert_eq!(ids.len(), 10, "{body}");
    assert!(!ids.contains(item), "{body}");
    if dataset().is_ml100k {
        for sequel in ["172", "181"] {
            assert!(
                ids.contains(&sequel.to_string()),
                "{sequel} missing: {body}"
            );
        }
    } else {
        // No sequels in generated data: the neighbours are far more of its own category than
        // the catalog is.
        let items = dataset().item_rows();
        let category = |id: &str| items.iter().find(|i| i.id == id).unwrap().category.clone();
        let own = category(item);
        let share = ids.iter().filter(|i| category(i) == own).count() as f64 / 10.0;
        let catalog_share =
            items.iter().filter(|i| i.category == own).count() as f64 / items.len() as f64;
        assert!(
            share >= 4.0 * catalog_share,
            "{own:?} share {share:.2} vs catalog {catalog_share:.3}: {body}"
        );
    }
}

#[test]
fn a_missed_deadline_returns_the_popular_fallback() {
    let (tmp, data, _) = trained_copy();
    let config = tmp.path().join("zero.toml");
    std::fs::write(&config, "[serve.recommend]\ndeadline_ms = 0\n").unwrap();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let facts = facts();
    let first = &facts.users[0];
    let body = recommend(&server, &format!("user_id={first}&num_results=10"));
    assert_eq!(body["fallback"], json!(true), "{body}");
    let seen = &facts.seen[first];
    let items = item_ids(&body);
    assert_eq!(items.len(), 10, "{body}");
    assert!(items.iter().all(|i| !seen.contains(i)), "{body}");
}

/// An overloaded server ranks with the light ranker instead of falling back to the popular
/// list, and does not cache that answer. `degrade_after_ms = 0` degrades every request; the
/// model is trained as an MLP (on ml-100k the default `auto` picks logistic regression, which
/// has no lighter ranker), so it carries the logistic ranker beside it.
#[test]
fn a_behind_server_answers_personally_with_the_light_ranker() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    copy_dir(&trained().join("data"), &data);
    let config = tmp.path().join("mlp.toml");
    std::fs::write(
        &config,
        "[train.ranker]\nkind = \"mlp\"\n[serve.recommend]\ndeadline_ms = 10000\ndegrade_after_ms = 0\n",
    )
    .unwrap();
    recd_ok(&[
        "train",
        "--data-dir",
        arg(&data),
        "--config",
        arg(&config),
        "--force",
    ]);
    let models = data.join("models");
    let current = std::fs::read_to_string(models.join("CURRENT")).unwrap();
    let version = models.join(current.trim());
    let ranker: Value =
        serde_json::from_str(&std::fs::read_to_string(version.join("ranker.json")).unwrap())
            .unwrap();
    assert_eq!(ranker["kind"], json!("mlp"));
    assert!(version.join("ranker_light.json").exists());
    // The evaluation reports what a server that is behind answers.
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(version.join("manifest.json")).unwrap())
            .unwrap();
    let degraded = &manifest["metrics"]["pipeline_degraded"];
    assert!(degraded["users"].as_u64().unwrap() > 0, "{manifest}");
    assert!(degraded["ndcg@10"].as_f64().unwrap() > 0.0, "{manifest}");

    let facts = facts();
    let first = &facts.users[0];
    let seen = &facts.seen[first];
    // Behind; calm; calm but asked for the logistic ranker (an experiment arm's setting).
    let lists: Vec<(Vec<String>, f64)> =
        [(true, ""), (false, ""), (false, "ranker = \"logistic\"\n")]
            .into_iter()
            .enumerate()
            .map(|(k, (behind, ranker))| {
                let config = if behind {
                    config.clone()
                } else {
                    let c = tmp.path().join(format!("calm{k}.toml"));
                    std::fs::write(
                &c,
                format!(
                    "[serve.recommend]\ndeadline_ms = 10000\ndegrade_after_ms = 5000\n{ranker}"
                ),
            )
            .unwrap();
                    c
                };
                let server = Server::start(&data, &["--config", arg(&config)]);
                let body = recommend(&server, &format!("user_id={first}&num_results=20"));
                assert_eq!(body["degraded"], json!(behind), "{body}");
                assert_eq!(body["fallback"], json!(false), "{body}");
                let items = item_ids(&body);
                assert_eq!(items.len(), 20, "{body}");
                assert!(items.iter().all(|i| !seen.contains(i)), "{body}");
                let reasons = body["items"].as_array().unwrap();
                assert!(
                    reasons
                        .iter()
                        .all(|i| !i["reason"].as_str().unwrap().is_empty())
                );
                // The same request again: a personal answer comes from the cache, a degraded one
                // is not kept (the next request, maybe in a calmer moment, is ranked in full).
                let again = recommend(&server, &format!("user_id={first}&num_results=20"));
                assert_eq!(again["degraded"], json!(behind), "{again}");
                let metrics = server.get_text("/metrics");
                let outcome = |o: &str| {
                    metrics.lines().any(|l| {
                        l.starts_with("recd_recommendations_total")
                            && l.contains(&format!("\"{o}\""))
                    })
                };
                assert_eq!(outcome("ranked_light"), behind, "{metrics}");
                assert_eq!(outcome("cached"), !behind, "{metrics}");
                // Candidates proposed by the content generator, as `/metrics` counts them.
                let content: f64 = metrics
                    .lines()
                    .find(|l| l.starts_with("recd_recommend_candidates_total{source=\"content\"}"))
                    .and_then(|l| l.rsplit(' ').next())
                    .map_or(0.0, |v| v.parse().unwrap());
                let als = metrics
                    .lines()
                    .any(|l| l.starts_with("recd_recommend_candidates_total{source=\"als\"}"));
                assert!(als, "{metrics}");
                (items, content)
            })
            .collect();
    // Two rankers: the lists are personal but not the same.
    assert_ne!(lists[0].0, lists[1].0);
    // A degraded answer's candidates leave the content generator out
    // (`CandidateConfig::degraded`); a full answer has some of its candidates.
    assert_eq!(lists[0].1, 0.0, "content candidates in degraded answers");
    assert!(lists[1].1 > 0.0, "no content candidates in full answers");
    // The logistic ranker asked for ranks the full candidates (not marked degraded), and
    // orders them otherwise than the MLP.
    assert!(
        lists[2].1 > 0.0,
        "content candidates with ranker = logistic"
    );
    assert_ne!(lists[2].0, lists[1].0);
}

/// Copies the current version under a new name and activates it, as a new training would.
fn publish_copy(data: &Path, name: &str) {
    let models = data.join("models");
    let current = std::fs::read_to_string(models.join("CURRENT")).unwrap();
    let current = current.trim();
    copy_dir(&models.join(current), &models.join(name));
    let manifest = models.join(name).join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut m: Value = serde_json::from_str(&text).unwrap();
    m["version"] = json!(name);
    std::fs::write(&manifest, m.to_string()).unwrap();
    recd_ok(&["models", "activate", "--data-dir", arg(data), name]);
}

#[test]
fn a_model_swap_under_load_fails_no_request() {
    let (_tmp, data, config) = trained_copy();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let users = &facts().users;
    let first = recommend(&server, &format!("user_id={}", users[0]))["model_version"]
        .as_str()
        .unwrap()
        .to_string();
    let stop = AtomicBool::new(false);
    let (ok, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let versions = std::sync::Mutex::new(HashSet::new());
    std::thread::scope(|s| {
        for t in 0..4 {
            let (server, stop, ok, failed, versions) = (&server, &stop, &ok, &failed, &versions);
            s.spawn(move || {
                let mut k = t;
                while !stop.load(Ordering::Relaxed) {
                    k += 4;
                    let user = if k % 3 == 0 {
                        format!("new{k}")
                    } else {
                        users[k % users.len()].clone()
                    };
                    let (status, body) = server.get(&format!(
                        "/v1/recommendations?user_id={user}&num_results=10"
                    ));
                    let good = status == 200 && item_ids(&body).len() == 10;
                    if good {
                        ok.fetch_add(1, Ordering::Relaxed);
                        let v = body["model_version"].as_str().unwrap_or("").to_string();
                        versions.lock().unwrap().insert(v);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("failed: {status} {body}");
                    }
                }
            });
        }
        for name in ["vswap-a", "vswap-b"] {
            publish_copy(&data, name);
            server.wait_until(
                || {
                    recommend(&server, &format!("user_id={}", users[1]))["model_version"]
                        == json!(name)
                },
                "serving the new version",
            );
        }
        stop.store(true, Ordering::Relaxed);
    });
    let versions = versions.into_inner().unwrap();
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests failed during the swaps"
    );
    assert!(ok.load(Ordering::Relaxed) > 20, "the load was real");
    assert!(
        versions.contains("vswap-a") && versions.contains("vswap-b"),
        "both swaps were seen under load ({first} first): {versions:?}"
    );
}

/// `recd recommend` and `GET /v1/recommendations` are one engine: for the same data dir, state
/// and request id, the batch file holds the HTTP answer item for item — scores, sources and
/// reasons included — for trained users, a user known only from live events (features and a
/// folded-in vector), a user nobody knows (cold start), with an item added after training in
/// the catalog (new-item slots). The batch runs beside the live server, reading the data dir
/// as a reader does.
#[test]
fn recd_recommend_writes_the_http_answers() {
    let (tmp, data, _) = trained_copy();
    // Degrading to the light ranker depends on queueing, which a batch run has none of: off,
    // so the comparison is of full answers on both sides.
    let config = tmp.path().join("same.toml");
    std::fs::write(
        &config,
        TEST_CONFIG.replace(
            "deadline_ms = 10000\n",
            "deadline_ms = 10000\ndegrade_after_ms = 10000\n",
        ),
    )
    .unwrap();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let facts = facts();
    let before = catalog_view_builds(&server);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let like = dataset()
        .item_rows()
        .into_iter()
        .find(|i| i.id == facts.viewed[0])
        .unwrap();
    let item = json!({"title": format!("New {}", like.title), "category": like.category,
                      "tags": like.tags, "created_at": now_ms});
    let (status, body) = server.request("PUT", "/v1/items/new-one", &item.to_string());
    assert!(status == 200 || status == 201, "{status} {body}");
    for item in &facts.viewed {
        let event = json!({"user_id": "live-viewer", "item_id": item, "type": "view"});
        assert_eq!(
            server.request("POST", "/v1/events", &event.to_string()).0,
            202
        );
    }
    server.wait_until(
        || {
            let (_, f) = server.get("/v1/users/live-viewer/features");
            f["recent_views"].as_array().is_some_and(|v| v.len() == 3)
                && catalog_view_builds(&server) > before
        },
        "the live events applied and the new item in the catalog view",
    );
    let mut users: Vec<String> = facts.users.iter().take(30).cloned().collect();
    users.extend(["live-viewer".to_string(), "nobody-here".to_string()]);
    let users_csv = tmp.path().join("users.csv");
    std::fs::write(&users_csv, format!("user_id\n{}\n", users.join("\n"))).unwrap();
    // The time-of-day features read whole hours: the batch is made for the hour the HTTP
    // requests are answered in, and made again in the rare run that crosses an hour.
    let hour = |ms: i64| ms / 3_600_000;
    let (batch, answers) = loop {
        let at = unix_ms();
        let batch = batch_lists(&tmp, &config, &data, &users_csv, at);
        assert_eq!(batch.len(), users.len(), "every user has a list");
        let answers: Vec<Value> = users
            .iter()
            .map(|user| {
                let request_id = &batch[user].0;
                recommend(
                    &server,
                    &format!("user_id={user}&num_results=10&request_id={request_id}"),
                )
            })
            .collect();
        if hour(unix_ms()) == hour(at) {
            break (batch, answers);
        }
    };
    let mut saw_new_item = false;
    for (user, body) in users.iter().zip(&answers) {
        let items = &batch[user].1;
        assert_eq!(body["fallback"], false, "{body}");
        assert_eq!(body["degraded"], false, "{body}");
        let http: Vec<Value> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                json!({
                    "item_id": i["item_id"],
                    "score": i["score"].as_f64().unwrap() as f32,
                    "source": i["source"],
                    "reason": i["reason"],
                })
            })
            .collect();
        assert_eq!(&http, items, "user {user}: HTTP {body}");
        saw_new_item |= items.iter().any(|i| i["item_id"] == "new-one");
    }
    assert!(
        saw_new_item,
        "the item added after training has a slot in some list"
    );
    let live = &batch["live-viewer"].1;
    assert!(
        live.iter().any(|i| facts
            .viewed_titles
            .iter()
            .any(|t| i["reason"] == format!("because you watched {t}"))),
        "the live-only user's list comes from their live events: {live:?}"
    );
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `recd recommend` for the users of `users_csv` at `at_ms`: per user, the request id and the
/// items (id, score, source, reason) in rank order.
fn batch_lists(
    tmp: &tempfile::TempDir,
    config: &std::path::Path,
    data: &std::path::Path,
    users_csv: &std::path::Path,
    at_ms: i64,
) -> HashMap<String, (String, Vec<Value>)> {
    let out = tmp.path().join("recs.csv");
    recd_ok(&[
        "recommend",
        "--config",
        arg(config),
        "--data-dir",
        arg(data),
        "--users",
        arg(users_csv),
        "--n",
        "10",
        "--at",
        &at_ms.to_string(),
        "--out",
        arg(&out),
    ]);
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let mut batch: HashMap<String, (String, Vec<Value>)> = HashMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        let entry = batch
            .entry(row[0].to_string())
            .or_insert_with(|| (row[6].to_string(), Vec::new()));
        assert_eq!(row[2], (entry.1.len() + 1).to_string(), "ranks in order");
        entry.1.push(json!({
            "item_id": &row[1],
            "score": row[3].parse::<f32>().unwrap(),
            "source": &row[4],
            "reason": &row[5],
        }));
    }
    batch
}

/// A search moves the items it names up the user's next list, with the search as the reason:
/// "toy story" on ml-100k brings Toy Story in; on generated data, an item's own title.
#[test]
fn a_search_moves_what_it_names_up_the_next_list() {
    let (_tmp, data, config) = trained_copy();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let facts = facts();
    let items = dataset().item_rows();
    let (target, query) = if dataset().is_ml100k {
        ("1".to_string(), "toy story".to_string())
    } else {
        let it = items.iter().find(|i| i.id == facts.other_item).unwrap();
        (it.id.clone(), it.title.clone())
    };
    let user = facts
        .users
        .iter()
        .find(|u| !facts.seen[*u].contains(&target))
        .unwrap()
        .clone();
    let before = item_ids(&recommend(
        &server,
        &format!("user_id={user}&num_results=20"),
    ));
    let rank_before = before.iter().position(|i| *i == target);
    let event = json!({"user_id": user, "type": "search", "query": query});
    assert_eq!(
        server.request("POST", "/v1/events", &event.to_string()).0,
        202
    );
    server.wait_until(
        || {
            let (_, f) = server.get(&format!("/v1/users/{user}/features"));
            f["recent_queries"]
                .as_array()
                .is_some_and(|q| !q.is_empty())
        },
        "the search in the user's features",
    );
    let after = recommend(&server, &format!("user_id={user}&num_results=20"));
    let rank_after = item_ids(&after).iter().position(|i| *i == target);
    let moved_up = match (rank_before, rank_after) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(b), Some(a)) => a < b,
    };
    assert!(
        moved_up,
        "{target} from {rank_before:?} to {rank_after:?}: {after}"
    );
    let slot = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item_id"] == target)
        .unwrap();
    assert_eq!(
        slot["reason"],
        format!("because you searched for {query}"),
        "{after}"
    );
    assert_eq!(slot["source"], "search", "{after}");
}

/// A list served from the answer cache is still its own answer: same items, a new request id
/// (events citing it are attributed to this showing).
#[test]
fn a_cached_answer_gets_its_own_request_id() {
    let (_tmp, data, config) = trained_copy();
    let server = Server::start(&data, &["--config", arg(&config)]);
    let user = &facts().users[2];
    let query = format!("user_id={user}&num_results=10");
    // A degraded answer (the light ranker, when a loaded host put the compute threads behind)
    // is not cached: ask until one is ranked in full, which is.
    let mut first = recommend(&server, &query);
    for _ in 0..20 {
        if first["degraded"] == false {
            break;
        }
        first = recommend(&server, &query);
    }
    assert_eq!(first["degraded"], false, "{first}");
    let second = recommend(&server, &query);
    assert_eq!(item_ids(&first), item_ids(&second), "{first} {second}");
    assert_ne!(first["request_id"], second["request_id"], "{second}");
    let metrics = server.get_text("/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("recd_recommendations_total{outcome=\"cached\"}")),
        "the second answer came from the cache: {metrics}"
    );
}
