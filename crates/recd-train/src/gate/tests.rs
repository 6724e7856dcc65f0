//! The gate on a world of two taste groups: a current model that learned the groups, one
//! that learned noise, and a period after its cut that either tells them apart or is empty.

use std::path::Path;

use recd_model::Model;
use recd_model::artifact::{FORMAT_VERSION, Manifest, registry};

use super::*;
use crate::build_model;
use crate::progress::LogProgress;

const DAY: i64 = 86_400_000;
const N_USERS: u32 = 300;
const N_ITEMS: u32 = 40;

/// Users of group `u % 2` touch 12 of their group's 20 items, one every two days from day
/// 0, so each has events before and after every cut the tests use.
fn world() -> Dataset {
    let mut interactions = Vec::new();
    for u in 0..N_USERS {
        let group = u % 2;
        for k in 0..12u32 {
            // A different walk over the group's items per user, no item twice.
            let item = group * 20 + (u * 7 + k * 3) % 20;
            interactions.push(Interaction {
                user: u,
                item,
                ts: i64::from(k) * 2 * DAY + i64::from(u % 5) * 3_600_000,
                signal: 5.0,
                ctx: Default::default(),
            });
        }
    }
    interactions.sort_by_key(|i| i.ts);
    let end = interactions.iter().map(|i| i.ts).max().unwrap();
    Dataset {
        users: (0..N_USERS).map(|u| format!("u{u}")).collect(),
        items: (0..N_ITEMS).map(|i| format!("i{i}")).collect(),
        catalog: vec![None; N_ITEMS as usize],
        interactions,
        window_ms: (0, end),
        ..Dataset::default()
    }
}

/// The same users and items with each interaction's item replaced by a pseudo-random one:
/// a model of it knows nothing of the groups.
fn noise(ds: &Dataset) -> Dataset {
    let mut res = ds.clone();
    for (n, i) in res.interactions.iter_mut().enumerate() {
        i.item = ((n as u64 * 2_654_435_761) % u64::from(N_ITEMS)) as u32;
    }
    res
}

fn config() -> TrainConfig {
    TrainConfig {
        gate_min_users: 100,
        ..TrainConfig::default()
    }
}

/// A model of `ds`'s interactions up to `cut_ms`.
fn model_until(ds: &Dataset, cut_ms: i64) -> Model {
    let part: Vec<Interaction> = ds
        .interactions
        .iter()
        .filter(|i| i.ts <= cut_ms)
        .copied()
        .collect();
    build_model(ds, &part, &config(), &LogProgress).unwrap()
}

/// Publishes `model` as the current version, trained up to `cut_ms`, with `stored` as the
/// NDCG of its own hold-out.
fn publish_current(models_dir: &Path, mut model: Model, cut_ms: i64, stored: f64) {
    let version = "v20260101-000000-000";
    model.version = version.to_string();
    let tmp = models_dir.join(format!(".tmp-{version}"));
    std::fs::create_dir_all(&tmp).unwrap();
    model.save(&tmp).unwrap();
    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        version: version.to_string(),
        created_ms: 0,
        data_window_ms: (0, cut_ms),
        params: serde_json::to_value(config()).unwrap(),
        metrics: serde_json::json!({ "pipeline": { "ndcg@10": stored } }),
        files: Default::default(),
    };
    manifest.write(&tmp).unwrap();
    registry::publish(models_dir, &tmp, version).unwrap();
    registry::activate(models_dir, version).unwrap();
}

/// The candidate's side of a run on `ds`: its generators before the hold-out, the hold-out,
/// and the metrics `decide` sees for its whole hold-out.
fn candidate(ds: &Dataset) -> (Model, Vec<Interaction>, i64) {
    let cut = ds.window_ms.1 - 7 * DAY;
    let (_, holdout) = ds.split_holdout(7.0);
    (model_until(ds, cut), holdout, cut)
}

fn pipeline_metrics(ndcg: f64) -> Metrics {
    Metrics {
        users: N_USERS as usize,
        ndcg,
        ..Metrics::default()
    }
}

#[test]
fn a_current_model_of_noise_scores_worse_on_the_new_period() {
    let ds = world();
    let (cand, holdout, cut) = candidate(&ds);
    let current_cut = 14 * DAY;
    let good = model_until(&ds, current_cut);
    let bad = model_until(&noise(&ds), current_cut);
    let c = config();
    let side = |model, cut_ms| Side {
        model,
        cut_ms,
        candidates: &c.candidates,
    };
    let with_good = rescore(
        &ds,
        &side(&cand, cut),
        &side(&good, current_cut),
        &holdout,
        c.relevance_min_confidence,
        c.session_gap_ms,
    );
    let with_bad = rescore(
        &ds,
        &side(&cand, cut),
        &side(&bad, current_cut),
        &holdout,
        c.relevance_min_confidence,
        c.session_gap_ms,
    );
    assert!(with_good.users >= 100, "{with_good:?}");
    assert!(with_bad.users >= 100, "{with_bad:?}");
    assert_eq!(with_good.from_ms, cut);
    assert!(
        with_bad.current < with_good.current * 0.6,
        "noise {} vs groups {}",
        with_bad.current,
        with_good.current
    );
    assert!(with_bad.current < with_bad.candidate * 0.6, "{with_bad:?}");
}

#[test]
fn the_gate_refuses_a_candidate_worse_than_current_on_the_new_period() {
    let ds = world();
    let dir = tempfile::tempdir().unwrap();
    // The current model knows the groups; the candidate learned noise. The stored number is
    // set below the candidate's, so only the re-scoring can refuse it.
    publish_current(dir.path(), model_until(&ds, 14 * DAY), 14 * DAY, 0.0);
    let noisy = noise(&ds);
    let cand = model_until(&noisy, ds.window_ms.1 - 7 * DAY);
    // The candidate is judged on the true hold-out: what its users really did next.
    let (_, holdout) = ds.split_holdout(7.0);
    let current = assess_current(dir.path(), &ds, &cand, &holdout, &config())
        .unwrap()
        .unwrap();
    let r = current.rescore.clone().unwrap();
    assert!(r.current > r.candidate + 0.05, "{r:?}");
    let report = decide(
        "vnew",
        &pipeline_metrics(0.5),
        Some(&current),
        &config(),
        false,
    );
    assert!(!report.passed, "{report:?}");
    assert_eq!(report.method, GateMethod::Rescored);
    assert_eq!(report.current_ndcg, Some(r.current));
    assert_eq!(report.candidate_ndcg, r.candidate);
    assert!(report.decision.contains("re-scored"), "{}", report.decision);
    let forced = decide(
        "vnew",
        &pipeline_metrics(0.5),
        Some(&current),
        &config(),
        true,
    );
    assert!(forced.passed);
}

#[test]
fn the_gate_passes_a_candidate_better_than_current_on_the_new_period() {
    let ds = world();
    let dir = tempfile::tempdir().unwrap();
    // The current model learned noise but stored a high number from its own hold-out: the
    // old comparison would refuse the candidate.
    publish_current(
        dir.path(),
        model_until(&noise(&ds), 14 * DAY),
        14 * DAY,
        0.99,
    );
    let (cand, holdout, _) = candidate(&ds);
    let current = assess_current(dir.path(), &ds, &cand, &holdout, &config())
        .unwrap()
        .unwrap();
    let report = decide(
        "vnew",
        &pipeline_metrics(0.5),
        Some(&current),
        &config(),
        false,
    );
    assert!(report.passed, "{report:?}");
    assert_eq!(report.method, GateMethod::Rescored);
    assert!(report.candidate_ndcg > report.current_ndcg.unwrap());
}

#[test]
fn too_few_users_after_the_current_cut_falls_back_to_the_stored_number() {
    let ds = world();
    let dir = tempfile::tempdir().unwrap();
    // Trained up to the newest event: the hold-out holds nothing it did not see.
    publish_current(
        dir.path(),
        model_until(&ds, ds.window_ms.1),
        ds.window_ms.1,
        0.3,
    );
    let (cand, holdout, _) = candidate(&ds);
    let current = assess_current(dir.path(), &ds, &cand, &holdout, &config())
        .unwrap()
        .unwrap();
    assert_eq!(current.rescore.as_ref().unwrap().users, 0);
    let report = decide(
        "vnew",
        &pipeline_metrics(0.297),
        Some(&current),
        &config(),
        false,
    );
    assert_eq!(report.method, GateMethod::Stored);
    assert_eq!(report.current_ndcg, Some(0.3));
    assert_eq!(report.candidate_ndcg, 0.297);
    assert!(report.passed, "within the tolerance of the stored number");
    assert!(report.decision.contains("fell back"), "{}", report.decision);
    let worse = decide(
        "vnew",
        &pipeline_metrics(0.2),
        Some(&current),
        &config(),
        false,
    );
    assert!(!worse.passed, "{worse:?}");
}

#[test]
fn an_unreadable_current_model_falls_back_and_says_why() {
    let ds = world();
    let dir = tempfile::tempdir().unwrap();
    publish_current(dir.path(), model_until(&ds, 14 * DAY), 14 * DAY, 0.1);
    let version = registry::current(dir.path()).unwrap().unwrap();
    std::fs::remove_file(registry::version_dir(dir.path(), &version).join("ranker.json")).unwrap();
    let (cand, holdout, _) = candidate(&ds);
    let current = assess_current(dir.path(), &ds, &cand, &holdout, &config())
        .unwrap()
        .unwrap();
    assert!(current.rescore.is_err());
    let report = decide(
        "vnew",
        &pipeline_metrics(0.2),
        Some(&current),
        &config(),
        false,
    );
    assert_eq!(report.method, GateMethod::Stored);
    assert!(report.passed);
    assert!(
        report.decision.contains("could not be re-scored"),
        "{}",
        report.decision
    );
}

#[test]
fn the_training_cut_follows_the_refit() {
    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        version: "v".into(),
        created_ms: 0,
        data_window_ms: (0, 30 * DAY),
        params: serde_json::to_value(config()).unwrap(),
        metrics: serde_json::Value::Null,
        files: Default::default(),
    };
    assert_eq!(training_cut(&manifest), 30 * DAY);
    manifest.params["refit_on_full"] = false.into();
    assert_eq!(training_cut(&manifest), 23 * DAY);
    manifest.params = serde_json::Value::Null;
    assert_eq!(training_cut(&manifest), 30 * DAY);
}
