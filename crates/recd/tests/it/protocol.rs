//! The offline protocol of `../shared/bench/PROTOCOL.md`: the shared `split.py` and
//! `evaluate.py` on ml-100k when `../shared/bench` is there, otherwise the same split and
//! NDCG@10 computed here (on generated data, whose events the split keeps as they are).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{Dataset, EventRow, events_csv, read_csv, shared_bench};

/// Cut-off of the protocol's metrics.
const K: usize = 10;
/// Users with fewer events go wholly to train.
const MIN_EVENTS: usize = 5;

/// Runs `../shared/bench/SCRIPT ARGS` with python3; returns stdout.
pub fn python(script: &str, args: &[&str]) -> String {
    let bench = shared_bench().expect("../shared/bench is there");
    let out = Command::new("python3")
        .arg(bench.join(script))
        .args(args)
        .output()
        .expect("python3 runs (CI installs it when ../shared/bench is there)");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Whether the shared scripts score this run (ml-100k and `../shared/bench` both there).
pub fn uses_shared_scripts(data: &Dataset) -> bool {
    data.is_ml100k && shared_bench().is_some()
}

/// The protocol's per-user temporal split into `out/train.csv` and `out/test.csv`: per user,
/// events sorted by (timestamp, item id), the last 20% (rounded up) to test; users with fewer
/// than 5 events wholly to train. ml-100k gives the protocol CSV (`split.py`'s output, byte
/// for byte); generated data keeps its generic CSV rows.
pub fn split(data: &Dataset, out: &Path) -> (PathBuf, PathBuf) {
    let (train, test) = (out.join("train.csv"), out.join("test.csv"));
    if uses_shared_scripts(data) {
        python(
            "split.py",
            &[
                "--input",
                data.events.to_str().unwrap(),
                "--format",
                "ml100k",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        return (train, test);
    }
    split_here(data, out)
}

/// [`split`] computed here, whatever is in `../shared`.
pub fn split_here(data: &Dataset, out: &Path) -> (PathBuf, PathBuf) {
    let (train, test) = (out.join("train.csv"), out.join("test.csv"));
    let events = data.event_rows();
    let (header, records): (Vec<String>, Vec<Vec<String>>) = if data.is_ml100k {
        let header = ["user_id", "item_id", "rating", "timestamp"];
        let records = events
            .iter()
            .map(|e| {
                vec![
                    e.user.clone(),
                    e.item.clone(),
                    e.value.unwrap().to_string(),
                    (e.timestamp_ms / 1000).to_string(),
                ]
            })
            .collect();
        (header.map(str::to_string).to_vec(), records)
    } else {
        let (header, rows) = read_csv(&data.events);
        let records = rows
            .iter()
            .map(|r| r.iter().map(str::to_string).collect())
            .collect();
        (header, records)
    };
    let mut by_user: HashMap<&str, Vec<usize>> = HashMap::new();
    for (n, e) in events.iter().enumerate() {
        by_user.entry(&e.user).or_default().push(n);
    }
    let mut users: Vec<&str> = by_user.keys().copied().collect();
    users.sort_by_key(|u| id_key(u));
    let mut train_w = csv::Writer::from_path(&train).unwrap();
    let mut test_w = csv::Writer::from_path(&test).unwrap();
    train_w.write_record(&header).unwrap();
    test_w.write_record(&header).unwrap();
    for user in users {
        let rows = by_user.get_mut(user).unwrap();
        rows.sort_by_key(|&n| (events[n].timestamp_ms, id_key(&events[n].item)));
        let n_test = if rows.len() < MIN_EVENTS {
            0
        } else {
            rows.len().div_ceil(5)
        };
        let (head, tail) = rows.split_at(rows.len() - n_test);
        for &n in head {
            train_w.write_record(&records[n]).unwrap();
        }
        for &n in tail {
            test_w.write_record(&records[n]).unwrap();
        }
    }
    train_w.flush().unwrap();
    test_w.flush().unwrap();
    (train, test)
}

/// `split.py`'s order of ids: numbers as numbers, before other ids as strings.
fn id_key(id: &str) -> (u8, i64, String) {
    match id.parse::<i64>() {
        Ok(n) => (0, n, String::new()),
        Err(_) => (1, 0, id.to_string()),
    }
}

/// NDCG@10 of `recs` (`user_id,item_id,rank`) by `evaluate.py`'s rules: scored users are test
/// users with a relevant item ([`EventRow::is_relevant`]) they do not already have in train
/// (ml-100k has no repeated pairs, so that changes nothing there); a recommended train item
/// is a miss; binary gain, log2 discount, ideal DCG over min(10, relevant); a scored user
/// without recommendations scores 0. Returns (scored users, NDCG@10).
pub fn ndcg_at_10(train: &Path, test: &Path, recs: &Path) -> (usize, f64) {
    let seen = pairs(&events_csv(train));
    let mut relevant: HashMap<String, HashSet<String>> = HashMap::new();
    for e in events_csv(test).into_iter().filter(EventRow::is_relevant) {
        if !seen.get(&e.user).is_some_and(|s| s.contains(&e.item)) {
            relevant.entry(e.user).or_default().insert(e.item);
        }
    }
    let (_, rows) = read_csv(recs);
    let mut lists: HashMap<String, Vec<(usize, String)>> = HashMap::new();
    for r in &rows {
        let rank: usize = r[2].parse().unwrap();
        assert!((1..=K).contains(&rank), "rank {rank} outside 1..={K}");
        lists
            .entry(r[0].to_string())
            .or_default()
            .push((rank, r[1].to_string()));
    }
    let empty = HashSet::new();
    let mut sum = 0.0;
    for (user, rel) in &relevant {
        let seen = seen.get(user).unwrap_or(&empty);
        let dcg: f64 = lists
            .get(user)
            .into_iter()
            .flatten()
            .filter(|(_, item)| !seen.contains(item) && rel.contains(item))
            .map(|(rank, _)| 1.0 / (*rank as f64 + 1.0).log2())
            .sum();
        let ideal: f64 = (1..=rel.len().min(K))
            .map(|r| 1.0 / (r as f64 + 1.0).log2())
            .sum();
        sum += dcg / ideal;
    }
    let n = relevant.len();
    (n, if n == 0 { 0.0 } else { sum / n as f64 })
}

/// Items of each user in `events`.
fn pairs(events: &[EventRow]) -> HashMap<String, HashSet<String>> {
    let mut out: HashMap<String, HashSet<String>> = HashMap::new();
    for e in events {
        out.entry(e.user.clone())
            .or_default()
            .insert(e.item.clone());
    }
    out
}

/// A popularity baseline: writes to `out`, for every user of `test`, the 10 items they do not
/// have with the most train users with a positive event (`half_life_days` None), or with the
/// most positive events weighted by 0.5^(age / half life) at the end of train (trending).
pub fn write_popular_recs(train: &Path, test: &Path, out: &Path, half_life_days: Option<f64>) {
    let events = events_csv(train);
    let seen = pairs(&events);
    let end_ms = events.iter().map(|e| e.timestamp_ms).max().unwrap_or(0);
    let mut users_of: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut decayed: HashMap<&str, f64> = HashMap::new();
    for e in events.iter().filter(|e| e.is_positive()) {
        users_of.entry(&e.item).or_default().insert(&e.user);
        if let Some(half_life) = half_life_days {
            let age_days = (end_ms - e.timestamp_ms) as f64 / 86_400_000.0;
            *decayed.entry(&e.item).or_default() += 0.5f64.powf(age_days / half_life);
        }
    }
    let mut popular: Vec<(f64, &str)> = match half_life_days {
        None => users_of.iter().map(|(i, u)| (u.len() as f64, *i)).collect(),
        Some(_) => decayed.iter().map(|(i, w)| (*w, *i)).collect(),
    };
    popular.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let test_users: HashSet<String> = events_csv(test).into_iter().map(|e| e.user).collect();
    let empty = HashSet::new();
    let mut w = csv::Writer::from_path(out).unwrap();
    w.write_record(["user_id", "item_id", "rank"]).unwrap();
    for user in &test_users {
        let seen = seen.get(user).unwrap_or(&empty);
        let list = popular.iter().filter(|(_, i)| !seen.contains(*i)).take(K);
        for (rank, (_, item)) in list.enumerate() {
            w.write_record([user.as_str(), item, &(rank + 1).to_string()])
                .unwrap();
        }
    }
    w.flush().unwrap();
}
