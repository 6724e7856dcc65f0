//! Offline evaluation: top-10 metrics of each generator alone and of the whole pipeline on a
//! hold-out, ranked over the full catalog (no sampled negatives).
//!
//! Relevant items of a user are their hold-out items with a positive signal of at least
//! `relevance_min_confidence` that they did not already have in training (the pipeline never
//! recommends those). AUC treats items a list does not rank as tied below every ranked one,
//! so a short candidate list is not flattered.

use crate::progress::Progress;
use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use recd_model::Model;
use recd_model::pipeline::{self, CandidateConfig, Source, UserState};

use crate::moment::Moments;
use serde::Serialize;

use crate::dataset::Interaction;

/// Cut-off of every top-k metric.
pub const K: usize = 10;

/// How many items each evaluated list holds: AUC wants a long list; the metrics@10 only look
/// at the head.
pub(crate) const DEPTH: usize = 1000;

/// Averages over the evaluated users.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Users with at least one relevant hold-out item.
    pub users: usize,
    /// Precision@10.
    #[serde(rename = "precision@10")]
    pub precision: f64,
    /// Recall@10 (hits / min(10, relevant), as the shared protocol defines it).
    #[serde(rename = "recall@10")]
    pub recall: f64,
    /// NDCG@10 with binary gains.
    #[serde(rename = "ndcg@10")]
    pub ndcg: f64,
    /// MAP@10.
    #[serde(rename = "map@10")]
    pub map: f64,
    /// Area under the ROC curve over the whole catalog.
    pub auc: f64,
    /// Distinct recommended items / catalog size.
    #[serde(rename = "coverage@10")]
    pub coverage: f64,
}

/// The relevant hold-out items of each user.
pub fn relevant_sets(
    model: &Model,
    holdout: &[Interaction],
    min_confidence: f32,
) -> HashMap<u32, HashSet<u32>> {
    let mut out: HashMap<u32, HashSet<u32>> = HashMap::new();
    for i in holdout.iter().filter(|i| i.signal >= min_confidence) {
        let seen = model.history.row(i.user as usize).0.contains(&i.item);
        if !seen {
            out.entry(i.user).or_default().insert(i.item);
        }
    }
    out
}

/// Running sums of the metrics, one user's ranked list at a time, so lists need not be kept.
#[derive(Default)]
pub(crate) struct Accumulator {
    sums: Metrics,
    shown: HashSet<u32>,
}

impl Accumulator {
    /// Adds one user's list against their relevant items (`n_candidates` unseen items in all).
    pub(crate) fn add(&mut self, list: &[u32], rel: &HashSet<u32>, n_candidates: usize) {
        let m = &mut self.sums;
        let top = &list[..list.len().min(K)];
        self.shown.extend(top.iter().copied());
        let hits: Vec<bool> = top.iter().map(|i| rel.contains(i)).collect();
        let n_hits = hits.iter().filter(|h| **h).count();
        let ideal = rel.len().min(K);
        m.users += 1;
        m.precision += n_hits as f64 / K as f64;
        m.recall += n_hits as f64 / ideal as f64;
        let dcg: f64 = hits
            .iter()
            .enumerate()
            .filter(|(_, h)| **h)
            .map(|(r, _)| 1.0 / (r as f64 + 2.0).log2())
            .sum();
        let idcg: f64 = (0..ideal).map(|r| 1.0 / (r as f64 + 2.0).log2()).sum();
        m.ndcg += dcg / idcg;
        let mut found = 0.0;
        let mut ap = 0.0;
        for (r, h) in hits.iter().enumerate() {
            if *h {
                found += 1.0;
                ap += found / (r as f64 + 1.0);
            }
        }
        m.map += ap / ideal as f64;
        m.auc += auc(list, rel, n_candidates);
    }

    /// The averages, and coverage of a catalog of `n_items`.
    pub(crate) fn finish(self, n_items: usize) -> Metrics {
        let mut m = self.sums;
        if m.users > 0 {
            let n = m.users as f64;
            m.precision /= n;
            m.recall /= n;
            m.ndcg /= n;
            m.map /= n;
            m.auc /= n;
        }
        m.coverage = self.shown.len() as f64 / n_items.max(1) as f64;
        m
    }
}

/// Metrics of one ranked list per user.
pub fn score_lists(
    lists: &HashMap<u32, Vec<u32>>,
    relevant: &HashMap<u32, HashSet<u32>>,
    n_items: usize,
    n_seen: impl Fn(u32) -> usize,
) -> Metrics {
    let mut acc = Accumulator::default();
    for (user, rel) in relevant {
        let list = lists.get(user).map(Vec::as_slice).unwrap_or(&[]);
        acc.add(list, rel, n_items.saturating_sub(n_seen(*user)));
    }
    acc.finish(n_items)
}

/// AUC of a ranked list against `relevant`, over `n_candidates` unseen items in all; unranked
/// items are tied below the ranked ones.
fn auc(list: &[u32], relevant: &HashSet<u32>, n_candidates: usize) -> f64 {
    let n_pos = relevant.len();
    let n_neg = n_candidates.saturating_sub(n_pos);
    if n_pos == 0 || n_neg == 0 {
        return 0.5;
    }
    let mut negatives_above = 0usize;
    let mut correct = 0.0;
    let mut ranked_pos = 0usize;
    for item in list {
        if relevant.contains(item) {
            correct += (n_neg - negatives_above) as f64;
            ranked_pos += 1;
        } else {
            negatives_above += 1;
        }
    }
    let unranked_neg = n_neg.saturating_sub(negatives_above);
    correct += (n_pos - ranked_pos) as f64 * unranked_neg as f64 * 0.5;
    correct / (n_pos as f64 * n_neg as f64)
}

/// The item rows the server would answer with for the candidates `c`, best first: the
/// `pipeline` row of the evaluation, and what the gate re-scores the current model with.
pub(crate) fn served(
    model: &Model,
    c: &pipeline::Candidates,
    candidates: &CandidateConfig,
    depth: usize,
) -> Vec<u32> {
    pipeline::ranked(model, c, candidates.rerank, depth)
        .iter()
        .map(|&(k, _)| c.items[k as usize])
        .collect()
}

/// Evaluates each generator alone and the pipeline; returns `(name, metrics)` rows.
pub fn evaluate(
    model: &Model,
    holdout: &[Interaction],
    moments: &Moments,
    min_confidence: f32,
    candidates: &CandidateConfig,
    progress: &dyn Progress,
) -> Vec<(String, Metrics)> {
    let relevant = relevant_sets(model, holdout, min_confidence);
    let mut users: Vec<u32> = relevant.keys().copied().collect();
    users.sort_unstable();
    let depth = DEPTH;
    // `pipeline` ranks as the server does (`pipeline::ranked`: a cascade when the model has a
    // light ranker and `rerank` is set); `pipeline_full` is then the ranker over every
    // candidate, `pipeline_light` the light ranker alone, and `pipeline_degraded` the light
    // ranker over `CandidateConfig::degraded` (what an overloaded server answers with).
    let cascade = model.light_ranker.is_some() && candidates.rerank > 0;
    let names: Vec<&str> = Source::ALL
        .iter()
        .map(|s| s.as_str())
        .chain(["pipeline"])
        .chain(cascade.then_some("pipeline_full"))
        .chain(model.light_ranker.as_ref().map(|_| "pipeline_light"))
        .chain(model.light_ranker.as_ref().map(|_| "pipeline_degraded"))
        .collect();
    let degraded = candidates.degraded();
    let mut accs: Vec<Accumulator> = names.iter().map(|_| Accumulator::default()).collect();
    // Users in chunks: each user's signals are computed once for all generators, lists are
    // scored as they come, and memory stays bounded by the chunk, not the user count.
    let mut done = 0u64;
    for chunk in users.chunks(1024) {
        let lists: Vec<Vec<Vec<u32>>> = chunk
            .par_iter()
            .map(|&u| {
                let mut state = UserState::from_model(model, u);
                state.moment = moments.get(model, u, Some);
                let ids = |l: Vec<(u32, f32)>| l.into_iter().map(|(i, _)| i).collect();
                let mut each: Vec<Vec<u32>> =
                    pipeline::generate_each(model, &state, candidates, depth)
                        .into_iter()
                        .map(|(_, l)| ids(l))
                        .collect();
                let c = pipeline::candidates(model, &state, candidates);
                each.push(served(model, &c, candidates, depth));
                let full = cascade.then_some(&model.ranker);
                each.extend(full.into_iter().chain(&model.light_ranker).map(|r| {
                    pipeline::rank(r, &c, depth)
                        .into_iter()
                        .map(|s| s.item)
                        .collect()
                }));
                // What a server that is behind answers: the light ranker over the degraded
                // candidate set.
                if let Some(light) = &model.light_ranker {
                    let c = pipeline::candidates(model, &state, &degraded);
                    each.push(
                        pipeline::rank(light, &c, depth)
                            .into_iter()
                            .map(|s| s.item)
                            .collect(),
                    );
                }
                each
            })
            .collect();
        for (u, each) in chunk.iter().zip(lists) {
            let n_candidates = model
                .n_items()
                .saturating_sub(model.history.row(*u as usize).0.len());
            for (acc, list) in accs.iter_mut().zip(each) {
                acc.add(&list, &relevant[u], n_candidates);
            }
        }
        done += chunk.len() as u64;
        progress.advance("evaluated users", done, users.len() as u64);
    }
    names
        .into_iter()
        .zip(accs)
        .map(|(name, acc)| (name.to_string(), acc.finish(model.n_items())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        // One user, relevant {1, 2}; list [1, 9, 2]: hits at ranks 1 and 3.
        let rel = HashMap::from([(0u32, HashSet::from([1u32, 2]))]);
        let lists = HashMap::from([(0u32, vec![1u32, 9, 2])]);
        let m = score_lists(&lists, &rel, 10, |_| 0);
        assert!((m.precision - 0.2).abs() < 1e-12);
        assert!((m.recall - 1.0).abs() < 1e-12);
        let dcg = 1.0 + 1.0 / 4f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2();
        assert!((m.ndcg - dcg / idcg).abs() < 1e-12);
        assert!((m.map - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        // 8 negatives; item 1 beats all 8, item 2 beats 7 (9 is above it).
        assert!((m.auc - 15.0 / 16.0).abs() < 1e-12);
        assert!((m.coverage - 0.3).abs() < 1e-12);
    }
}
