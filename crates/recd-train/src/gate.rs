//! The publish gate: may the new version replace the current one?
//!
//! Each version stores the NDCG@10 of its own hold-out, but two versions' hold-outs are
//! different weeks with different users: comparing the stored numbers says as much about the
//! weeks as about the models. So the current model is re-scored ([`rescore`]) on the part of
//! the new version's hold-out that comes after the current model's own training cut — events
//! it never saw — and the new version is scored on exactly the same users and relevant items,
//! each with the user state a server would have had just before those events: the model's
//! history up to its cut plus, as the speed layer adds them, the user's events between that
//! cut and the scored period. Both lists come from the evaluation's own code
//! (`evaluate::served`), ranked as the server ranks.
//!
//! When that part holds fewer than `gate_min_users` users with relevant items (the current
//! model was trained recently, or on nearly the same data), the comparison falls back to the
//! number the current model stored, and the decision says so.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rayon::prelude::*;
use recd_model::Model;
use recd_model::artifact::{Manifest, registry};
use recd_model::pipeline::{self, CandidateConfig, UserState};

use crate::moment::Moments;

use crate::TrainError;
use crate::config::TrainConfig;
use crate::dataset::{Dataset, Interaction};
use crate::evaluate::{Accumulator, DEPTH, Metrics, served};

const DAY_MS: f64 = 86_400_000.0;

/// How the gate compared the two versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateMethod {
    /// No current model (or it could not be compared): nothing to compare with.
    NoCurrent,
    /// Both versions scored on the new period, the part of the new hold-out the current model
    /// never saw.
    Rescored,
    /// The new version's hold-out NDCG against the number the current model stored from its
    /// own, older hold-out (the new period was too small, or the current model unreadable).
    Stored,
}

impl GateMethod {
    /// The name shown in the jobs list and the outcome file.
    pub fn as_str(self) -> &'static str {
        match self {
            GateMethod::NoCurrent => "no_current",
            GateMethod::Rescored => "rescored",
            GateMethod::Stored => "stored",
        }
    }
}

/// The gate's decision and the numbers behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct GateReport {
    /// Whether the new version may be placed.
    pub passed: bool,
    /// How the numbers were obtained.
    pub method: GateMethod,
    /// The new version's NDCG@10 that was compared.
    pub candidate_ndcg: f64,
    /// The version that was current.
    pub current_version: Option<String>,
    /// Its NDCG@10 that was compared (re-scored, or stored).
    pub current_ndcg: Option<f64>,
    /// Users behind the compared numbers (the new period's when re-scored).
    pub users: usize,
    /// The decision in words, naming both numbers and the method.
    pub decision: String,
}

/// One side of a comparison: a model, the time up to which it was trained, and the candidate
/// quotas it is served with.
pub struct Side<'a> {
    /// The model.
    pub model: &'a Model,
    /// Its training cut (ms): it saw no event after this.
    pub cut_ms: i64,
    /// How it generates candidates.
    pub candidates: &'a CandidateConfig,
}

/// Both versions' NDCG@10 on the new period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rescore {
    /// Users with relevant items in the new period.
    pub users: usize,
    /// The new version's NDCG@10 there.
    pub candidate: f64,
    /// The current version's NDCG@10 there.
    pub current: f64,
    /// The period starts after this time (ms): the later of the two cuts.
    pub from_ms: i64,
}

/// What the gate knows about the current version.
#[derive(Debug, Clone)]
pub struct Current {
    /// Its name.
    pub version: String,
    /// The pipeline NDCG@10 it stored from its own hold-out.
    pub stored: Option<f64>,
    /// The re-scoring on the new period, or why there is none.
    pub rescore: Result<Rescore, String>,
}

/// Loads the current version (read-only) and re-scores it against `candidate` (the new
/// version's generators fitted before its hold-out, rows numbered as `ds`) on `holdout` (the
/// evaluated part of the hold-out). `None` when there is no current version.
pub fn assess_current(
    models_dir: &Path,
    ds: &Dataset,
    candidate: &Model,
    holdout: &[Interaction],
    config: &TrainConfig,
) -> Result<Option<Current>, TrainError> {
    let Some(version) = registry::current(models_dir)? else {
        return Ok(None);
    };
    let dir = registry::version_dir(models_dir, &version);
    let manifest = Manifest::read(&dir);
    let stored = manifest.as_ref().ok().and_then(Manifest::pipeline_ndcg);
    let rescore = (|| {
        let manifest = manifest.map_err(|e| format!("cannot read its manifest: {e}"))?;
        let served_with = manifest
            .candidates()
            .map_err(|e| format!("cannot read its candidate quotas: {e}"))?;
        let model = Model::load(&dir, false).map_err(|e| format!("cannot load it: {e}"))?;
        let cut_ms = ds.window_ms.1 - (config.holdout_days * DAY_MS) as i64;
        Ok(rescore(
            ds,
            &Side {
                model: candidate,
                cut_ms,
                candidates: &config.candidates,
            },
            &Side {
                model: &model,
                cut_ms: training_cut(&manifest),
                candidates: &served_with,
            },
            holdout,
            config.relevance_min_confidence,
            config.session_gap_ms,
        ))
    })();
    if let Err(why) = &rescore {
        tracing::warn!(current = version, reason = %why, "cannot re-score the current model; the gate uses its stored NDCG");
    }
    Ok(Some(Current {
        version,
        stored,
        rescore,
    }))
}

/// The last event time a published version learned from: the end of its data window when it
/// was refitted on the whole window (the default), else the end of the part before its
/// hold-out. A manifest without those parameters is taken at the end of its window, which
/// never counts an event it saw as new.
pub fn training_cut(manifest: &Manifest) -> i64 {
    let end = manifest.data_window_ms.1;
    let refit = manifest
        .params
        .get("refit_on_full")
        .and_then(|v| v.as_bool());
    let holdout = manifest.params.get("holdout_days").and_then(|v| v.as_f64());
    match (refit, holdout) {
        (Some(false), Some(days)) if days.is_finite() && days > 0.0 => end - (days * DAY_MS) as i64,
        _ => end,
    }
}

/// Scores `candidate` (rows numbered as `ds`) and `current` (its own rows, matched by id) on
/// the events of `holdout` after both cuts, with the same users, the same relevant items and
/// each user's events between a model's cut and that period added to its state.
pub fn rescore(
    ds: &Dataset,
    candidate: &Side<'_>,
    current: &Side<'_>,
    holdout: &[Interaction],
    min_confidence: f32,
    session_gap_ms: i64,
) -> Rescore {
    let from_ms = candidate.cut_ms.max(current.cut_ms);
    let earliest = candidate.cut_ms.min(current.cut_ms);
    let mut scored: HashMap<u32, Vec<Interaction>> = HashMap::new();
    for i in holdout.iter().filter(|i| i.ts > from_ms) {
        scored.entry(i.user).or_default().push(*i);
    }
    // What happened between a model's cut and the period, per scored user, in time order.
    let mut between: HashMap<u32, Vec<Interaction>> = HashMap::new();
    for i in &ds.interactions {
        if i.ts > earliest && i.ts <= from_ms && scored.contains_key(&i.user) {
            between.entry(i.user).or_default().push(*i);
        }
    }
    for list in between.values_mut() {
        list.sort_by_key(|i| (i.ts, i.item));
    }
    // Both models see the same request context: that of each user's first scored event.
    let before: Vec<Interaction> = ds
        .interactions
        .iter()
        .filter(|i| i.ts <= from_ms && scored.contains_key(&i.user))
        .copied()
        .collect();
    let firsts: Vec<Interaction> = scored.values().flatten().copied().collect();
    let moments = Moments::of(ds, &before, &firsts, session_gap_ms);
    let ds_rows: HashMap<&str, u32> = ds
        .items
        .iter()
        .enumerate()
        .map(|(r, name)| (name.as_str(), r as u32))
        .collect();
    let mut users: Vec<u32> = scored.keys().copied().collect();
    users.sort_unstable();
    let none = Vec::new();
    let lists: Vec<_> = users
        .par_iter()
        .filter_map(|&u| {
            let recent = between.get(&u).unwrap_or(&none);
            let name = ds.users[u as usize].as_str();
            let cur_row = |i: u32| current.model.items.get(&ds.items[i as usize]);
            let mut cand_state = state(candidate, Some(u), recent, Some);
            cand_state.moment = moments.get(candidate.model, u, Some);
            let mut cur_state = state(current, current.model.users.get(name), recent, cur_row);
            cur_state.moment = moments.get(current.model, u, cur_row);
            let relevant: HashSet<u32> = scored[&u]
                .iter()
                .filter(|i| i.signal >= min_confidence)
                .map(|i| i.item)
                .filter(|&i| !cand_state.exclude.contains(&i))
                .filter(|&i| {
                    current
                        .model
                        .items
                        .get(&ds.items[i as usize])
                        .is_none_or(|r| !cur_state.exclude.contains(&r))
                })
                .collect();
            if relevant.is_empty() {
                return None;
            }
            let cand_list = list(candidate, &cand_state);
            // Items the current model ranks that this data set does not know can be no one's
            // relevant item: they map to a row no item has.
            let cur_list: Vec<u32> = list(current, &cur_state)
                .into_iter()
                .map(|r| {
                    let name = current.model.items.name(r);
                    ds_rows.get(name).copied().unwrap_or(u32::MAX)
                })
                .collect();
            let unseen = |side: &Side<'_>, s: &UserState| {
                side.model.n_items().saturating_sub(s.exclude.len())
            };
            Some((
                relevant,
                (cand_list, unseen(candidate, &cand_state)),
                (cur_list, unseen(current, &cur_state)),
            ))
        })
        .collect();
    let (mut cand_acc, mut cur_acc) = (Accumulator::default(), Accumulator::default());
    for (relevant, (cand_list, cand_unseen), (cur_list, cur_unseen)) in &lists {
        cand_acc.add(cand_list, relevant, *cand_unseen);
        cur_acc.add(cur_list, relevant, *cur_unseen);
    }
    let cand = cand_acc.finish(candidate.model.n_items());
    let cur = cur_acc.finish(current.model.n_items());
    Rescore {
        users: cand.users,
        candidate: cand.ndcg,
        current: cur.ndcg,
        from_ms,
    }
}

/// A user's state for `side`: its trained history (if it knows the user), then the events in
/// `recent` after its cut, as the speed layer adds them at serving time (weight 1 for a
/// positive signal, -1 for a negative one; items excluded either way). `row_of` maps a data
/// set item row to the side's row.
fn state(
    side: &Side<'_>,
    user_row: Option<u32>,
    recent: &[Interaction],
    row_of: impl Fn(u32) -> Option<u32>,
) -> UserState {
    let mut s = user_row.map_or_else(UserState::default, |r| UserState::from_model(side.model, r));
    if s.now_ms <= 0 {
        // As the server does for a user the model does not know: the end of its data.
        s.now_ms = side.cut_ms;
    }
    for i in recent.iter().filter(|i| i.ts > side.cut_ms) {
        let Some(item) = row_of(i.item) else { continue };
        s.history
            .push((item, if i.signal > 0.0 { 1.0 } else { -1.0 }));
        s.exclude.insert(item);
        s.now_ms = s.now_ms.max(i.ts);
    }
    s
}

/// The side's served list for `s`, as item rows of that side.
fn list(side: &Side<'_>, s: &UserState) -> Vec<u32> {
    let c = pipeline::candidates(side.model, s, side.candidates);
    served(side.model, &c, side.candidates, DEPTH)
}

/// Decides whether `version` may be placed. `pipeline` is its metrics on its whole evaluated
/// hold-out; `current` what [`assess_current`] found.
pub fn decide(
    version: &str,
    pipeline: &Metrics,
    current: Option<&Current>,
    config: &TrainConfig,
    force: bool,
) -> GateReport {
    let tolerance = config.gate_tolerance;
    let (new, users) = (pipeline.ndcg, pipeline.users);
    let report =
        |passed, method, candidate_ndcg, current_ndcg, users, decision: String| GateReport {
            passed,
            method,
            candidate_ndcg,
            current_version: current.map(|c| c.version.clone()),
            current_ndcg,
            users,
            decision,
        };
    // An NDCG over a handful of users says nothing: no comparison is made on it.
    if users < config.gate_min_users {
        let few = format!(
            "the hold-out has {users} users with relevant items, fewer than gate_min_users = {}: NDCG@10 {new:.4} is not a meaningful comparison",
            config.gate_min_users
        );
        let (ok, why) = match current {
            None => (
                true,
                format!("{few}; no current model, so {version} passes anyway"),
            ),
            Some(_) if force => (true, format!("{few}; --force: {version} passes")),
            Some(cur) => (
                false,
                format!("{few}; keeping {} (use --force to override)", cur.version),
            ),
        };
        tracing::warn!(users, min = config.gate_min_users, "{why}");
        let method = if current.is_some() {
            GateMethod::Stored
        } else {
            GateMethod::NoCurrent
        };
        return report(ok, method, new, current.and_then(|c| c.stored), users, why);
    }
    let Some(cur) = current else {
        return report(
            true,
            GateMethod::NoCurrent,
            new,
            None,
            users,
            format!("no current model to compare with ({version}: NDCG@10 {new:.4})"),
        );
    };
    let name = &cur.version;
    // The numbers compared, how they were obtained, and the words that say so.
    let (method, new, old, n, how) = match &cur.rescore {
        Ok(r) if r.users >= config.gate_min_users => (
            GateMethod::Rescored,
            r.candidate,
            Some(r.current),
            r.users,
            format!(
                "both re-scored on the {} users of the hold-out after {name}'s training cut",
                r.users
            ),
        ),
        Ok(r) => (
            GateMethod::Stored,
            new,
            cur.stored,
            users,
            format!(
                "the hold-out after {name}'s training cut has {} users with relevant items, fewer than gate_min_users = {}: fell back to {name}'s stored NDCG from its own hold-out",
                r.users, config.gate_min_users
            ),
        ),
        Err(why) => (
            GateMethod::Stored,
            new,
            cur.stored,
            users,
            format!("{name} could not be re-scored ({why}): fell back to its stored NDCG"),
        ),
    };
    let Some(old) = old else {
        return report(
            true,
            method,
            new,
            None,
            n,
            format!(
                "{how}; {name} has no stored pipeline NDCG, so {version} passes (NDCG@10 {new:.4})"
            ),
        );
    };
    let (ok, verdict) = if new >= old - tolerance {
        (true, "passes".to_string())
    } else if force {
        (
            true,
            format!("worse beyond tolerance {tolerance}; --force: passing anyway"),
        )
    } else {
        (
            false,
            format!("worse beyond tolerance {tolerance}: keeping {name} (use --force to override)"),
        )
    };
    let decision = format!(
        "NDCG@10 {version} {new:.4} vs current {name} {old:.4} ({how}; tolerance {tolerance}): {verdict}"
    );
    report(ok, method, new, Some(old), n, decision)
}

#[cfg(test)]
mod tests;
