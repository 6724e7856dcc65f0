use std::path::Path;

use super::files::{STATE, stage, tmp_name};
use super::*;
use crate::artifact::FORMAT_VERSION;

fn make(models: &Path, version: &str, created_ms: i64) {
    let tmp = models.join(format!(".tmp-{version}"));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("x.json"), "{}").unwrap();
    let mut m = Manifest {
        format_version: FORMAT_VERSION,
        version: version.into(),
        created_ms,
        data_window_ms: (0, 1),
        params: serde_json::json!({}),
        metrics: serde_json::json!({"pipeline": {"ndcg@10": 0.1}}),
        files: Default::default(),
    };
    m.write(&tmp).unwrap();
    publish(models, &tmp, version).unwrap();
}

/// A models dir with versions `v1..=vn`, created in that order.
fn models(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 1..=n {
        make(dir.path(), &format!("v{i}"), i as i64);
    }
    dir
}

/// The state as `(current, candidate, previous)`, and the `CURRENT` mirror agrees with it.
fn check(models: &Path, current: Option<&str>, candidate: Option<&str>, previous: &[&str]) {
    let s = state(models).unwrap();
    assert_eq!(
        (
            s.current.as_deref(),
            s.candidate.as_deref(),
            s.previous.clone()
        ),
        (
            current,
            candidate,
            previous.iter().map(|v| v.to_string()).collect()
        ),
    );
    let mirror = std::fs::read_to_string(models.join("CURRENT")).ok();
    assert_eq!(mirror.as_deref().map(str::trim), current);
}

fn names(models: &Path) -> Vec<String> {
    list(models)
        .unwrap()
        .into_iter()
        .map(|m| m.version)
        .collect()
}

#[test]
fn activate_rolls_forward_and_back() {
    let dir = models(2);
    let models = dir.path();
    assert_eq!(current(models).unwrap(), None);
    assert_eq!(names(models), ["v1", "v2"]);
    activate(models, "v2").unwrap();
    check(models, Some("v2"), None, &[]);
    activate(models, "v1").unwrap();
    check(models, Some("v1"), None, &["v2"]);
    assert!(activate(models, "v3").is_err());
    assert!(activate(models, "../v1").is_err());
    assert!(activate(models, "").is_err());
}

#[test]
fn a_damaged_version_is_not_activated_staged_or_promoted() {
    let dir = models(2);
    activate(dir.path(), "v1").unwrap();
    stage_candidate(dir.path(), "v2").unwrap();
    std::fs::write(dir.path().join("v2/x.json"), "{\"changed\":1}").unwrap();
    assert!(activate(dir.path(), "v2").is_err());
    assert!(stage_candidate(dir.path(), "v2").is_err());
    assert!(promote(dir.path()).is_err());
    check(dir.path(), Some("v1"), Some("v2"), &[]);
}

#[test]
fn a_candidate_waits_for_promotion_and_rollback_returns() {
    let dir = models(3);
    let models = dir.path();
    activate(models, "v1").unwrap();
    let staged = stage_candidate(models, "v2").unwrap();
    assert_eq!(staged.replaced, None);
    check(models, Some("v1"), Some("v2"), &[]);
    // A newer candidate replaces the older one; CURRENT never moves on its own.
    let staged = stage_candidate(models, "v3").unwrap();
    assert_eq!(staged.replaced.as_deref(), Some("v2"));
    check(models, Some("v1"), Some("v3"), &[]);
    assert!(
        stage_candidate(models, "v1").is_err(),
        "CURRENT is not a candidate"
    );

    let promoted = promote(models).unwrap();
    assert_eq!(
        (promoted.version.as_str(), promoted.replaced.as_deref()),
        ("v3", Some("v1"))
    );
    check(models, Some("v3"), None, &["v1"]);
    let e = promote(models).unwrap_err();
    assert!(matches!(e, ModelError::Registry(_)), "{e}");

    let back = rollback(models).unwrap();
    assert_eq!(
        (back.version.as_str(), back.replaced.as_deref()),
        ("v1", Some("v3"))
    );
    check(models, Some("v1"), None, &[]);
    let e = rollback(models).unwrap_err();
    assert!(matches!(e, ModelError::Registry(_)), "{e}");
}

#[test]
fn rollback_walks_back_and_keeps_the_candidate() {
    let dir = models(4);
    let models = dir.path();
    for v in ["v1", "v2", "v3"] {
        activate(models, v).unwrap();
    }
    stage_candidate(models, "v4").unwrap();
    check(models, Some("v3"), Some("v4"), &["v1", "v2"]);
    rollback(models).unwrap();
    check(models, Some("v2"), Some("v4"), &["v1"]);
    rollback(models).unwrap();
    check(models, Some("v1"), Some("v4"), &[]);
    // Activating the candidate by name is promoting it.
    activate(models, "v4").unwrap();
    check(models, Some("v4"), None, &["v1"]);
}

#[test]
fn the_history_is_bounded_and_names_each_version_once() {
    let dir = models(3);
    let models = dir.path();
    for _ in 0..MAX_HISTORY {
        for v in ["v1", "v2", "v3"] {
            activate(models, v).unwrap();
        }
    }
    check(models, Some("v3"), None, &["v1", "v2"]);
    let mut s = RegistryState::default();
    for i in 0..MAX_HISTORY + 5 {
        s.make_current(&format!("x{i}"));
    }
    assert_eq!(s.previous.len(), MAX_HISTORY);
    assert_eq!(s.previous[0], "x4");
}

#[test]
fn a_data_dir_with_only_current_reads_as_current() {
    let dir = models(2);
    let models = dir.path();
    std::fs::write(models.join("CURRENT"), "v1\n").unwrap();
    check(models, Some("v1"), None, &[]);
    activate(models, "v2").unwrap();
    check(models, Some("v2"), None, &["v1"]);
    assert!(models.join(STATE).is_file());
}

#[test]
fn a_half_written_state_is_never_seen() {
    let dir = models(3);
    let models = dir.path();
    activate(models, "v1").unwrap();
    stage_candidate(models, "v2").unwrap();
    // A crash after staging the next state but before its rename: the old state stands.
    let next = RegistryState {
        current: Some("v2".into()),
        candidate: None,
        previous: vec!["v1".into()],
    };
    stage(models, STATE, &serde_json::to_string(&next).unwrap()).unwrap();
    check(models, Some("v1"), Some("v2"), &[]);
    // A torn temporary (a crash mid-write) is ignored too, and the next change replaces it.
    std::fs::write(models.join(tmp_name(STATE)), "{\"current\": \"v").unwrap();
    check(models, Some("v1"), Some("v2"), &[]);
    promote(models).unwrap();
    check(models, Some("v2"), None, &["v1"]);
    assert_eq!(
        names(models),
        ["v1", "v2", "v3"],
        "temporaries are not versions"
    );
    // A damaged state file is an error, not an empty registry that would skip the gate.
    std::fs::write(models.join(STATE), "{\"current\": \"v").unwrap();
    assert!(state(models).is_err());
    assert!(promote(models).is_err());
}

#[test]
fn retention_keeps_the_newest_and_what_the_state_needs() {
    let dir = models(8);
    let models = dir.path();
    activate(models, "v2").unwrap();
    activate(models, "v1").unwrap();
    activate(models, "v3").unwrap();
    stage_candidate(models, "v4").unwrap();
    check(models, Some("v3"), Some("v4"), &["v2", "v1"]);
    // A crash in an earlier run left a trash directory; a training is still writing a tmp.
    std::fs::create_dir_all(models.join(".trash-v0/sub")).unwrap();
    std::fs::create_dir_all(models.join(".tmp-v9")).unwrap();

    let deleted = gc(models, 2).unwrap();
    // v7, v8 are the newest two; v1 (rollback target), v3 (current), v4 (candidate) stay.
    assert_eq!(deleted, ["v2", "v5", "v6"]);
    assert_eq!(names(models), ["v1", "v3", "v4", "v7", "v8"]);
    check(models, Some("v3"), Some("v4"), &["v1"]);
    assert!(!models.join(".trash-v0").exists());
    assert!(models.join(".tmp-v9").is_dir());

    assert!(gc(models, 2).unwrap().is_empty(), "nothing more to delete");
    assert!(gc(models, 0).unwrap().is_empty(), "0 keeps everything");
    rollback(models).unwrap();
    check(models, Some("v1"), Some("v4"), &[]);
    assert_eq!(gc(models, 1).unwrap(), ["v3", "v7"]);
    assert_eq!(names(models), ["v1", "v4", "v8"]);
}

#[test]
fn retention_on_a_missing_dir_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    assert!(gc(&dir.path().join("models"), 3).unwrap().is_empty());
}

#[test]
fn a_rejected_candidate_leaves_its_slot_and_current_stays() {
    let dir = models(2);
    let m = dir.path();
    activate(m, "v1").unwrap();
    stage_candidate(m, "v2").unwrap();
    let change = super::change(m, &Op::Reject).unwrap();
    assert_eq!(change.version, "v2");
    check(m, Some("v1"), None, &[]);
    // The version stays, as an ordinary one.
    assert_eq!(names(m), ["v1", "v2"]);
    let err = super::change(m, &Op::Reject).unwrap_err().to_string();
    assert!(err.contains("no candidate to reject"), "{err}");
}
