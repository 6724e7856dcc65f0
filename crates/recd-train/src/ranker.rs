//! Training the ranker: examples from the generators' own candidates, then logistic
//! regression (Newton's method) and an MLP (Adam, early stopping), keeping whichever ranks the
//! validation slice better.
//!
//! Examples: the model is built from the head of each user's history; the candidates it
//! generates for that user are labelled 1 if the user went on to interact with them (the
//! tail, with enough confidence) and 0 otherwise. These are hard negatives: items our own
//! generators thought likely. Where the impressions log recorded what a user was shown during
//! their tail, the negatives are instead the candidates they were shown and did not engage
//! with (`crate::shown`): real "viewed but did not click" examples; the unlabelled rest of
//! their candidates is left out.

use crate::progress::Progress;
use std::collections::{HashMap, HashSet};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use recd_model::Model;
use recd_model::pipeline::features::{MOMENT, NAMES};
use recd_model::pipeline::{self, CandidateConfig, Moment, UserState};
use recd_model::ranker::{Layer, Ranker};

use crate::build::fixed_ranker;
use crate::config::RankerParams;
use crate::config::TrainConfig;
use crate::dataset::{Dataset, Interaction};
use crate::evaluate::relevant_sets;
use crate::mlp::{self, Adam, Net};
use crate::moment::Moments;

/// Labelled candidate rows, grouped by user.
#[derive(Debug, Default)]
pub struct Examples {
    /// The features of a row, in order (the pipeline's [`NAMES`], or some of them).
    pub features: Vec<&'static str>,
    /// Feature rows, row-major.
    pub x: Vec<f32>,
    /// Labels, 0 or 1.
    pub y: Vec<f32>,
    /// `[start, end)` row range of each user's group.
    pub groups: Vec<(usize, usize)>,
}

impl Examples {
    fn n(&self) -> usize {
        self.y.len()
    }

    /// The same examples without the features `drop`.
    fn without(&self, drop: &[&str]) -> Self {
        let d = self.features.len();
        let keep: Vec<usize> = (0..d)
            .filter(|&k| !drop.contains(&self.features[k]))
            .collect();
        Self {
            features: keep.iter().map(|&k| self.features[k]).collect(),
            x: self
                .x
                .chunks_exact(d)
                .flat_map(|row| keep.iter().map(move |&k| row[k]))
                .collect(),
            y: self.y.clone(),
            groups: self.groups.clone(),
        }
    }
}

/// One group of examples to collect: a user's candidates at a moment, and the items that
/// label them positive.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// User row.
    pub user: u32,
    /// The moment of the request the candidates answer.
    pub moment: Moment,
    /// The items the user went on to engage with.
    pub positives: HashSet<u32>,
    /// The items the user was shown during the labels' period (`crate::shown`), if recorded:
    /// then only the candidates among them are negatives.
    pub shown: Option<&'a HashSet<u32>>,
    /// Seeds the sampling of the group's negatives.
    pub seed: u64,
}

impl<'a> Group<'a> {
    /// The groups of each user of `positives` at their moment in `moments`, in user order.
    pub fn per_user(
        model: &Model,
        positives: HashMap<u32, HashSet<u32>>,
        shown: &'a HashMap<u32, HashSet<u32>>,
        moments: &Moments,
    ) -> Vec<Self> {
        let mut groups: Vec<Self> = positives
            .into_iter()
            .map(|(u, positives)| Group {
                user: u,
                moment: moments.get(model, u, Some),
                positives,
                shown: shown.get(&u),
                seed: u64::from(u) ^ 0x5eed,
            })
            .collect();
        groups.sort_by_key(|g| g.user);
        groups
    }
}

/// Searches per user made into groups of their own ([`Group::after_searches`]).
const SEARCHES_PER_USER: usize = 2;

impl Group<'static> {
    /// Groups at the moments right after the searches of `users` made during their tail
    /// ([`crate::moment::after_searches`], at most `SEARCHES_PER_USER` each), labelled by
    /// every positive interaction in the rest of the search's session with an item the
    /// user's history does not hold (what the search led to, as the session replay scores
    /// it; the users' own groups keep the evaluation's confidence threshold). The users'
    /// groups alone teach little about searches: their moment is that of their first
    /// labelled interaction, rarely just after a search, and their labels run over later
    /// sessions that the search says nothing about.
    pub fn after_searches(
        ds: &Dataset,
        (head, tail): (&[Interaction], &[Interaction]),
        users: &[u32],
        model: &Model,
        config: &TrainConfig,
    ) -> Vec<Self> {
        let found = crate::moment::after_searches(
            ds,
            (head, tail),
            users,
            config.session_gap_ms,
            SEARCHES_PER_USER,
        );
        let groups: Vec<Self> = found
            .into_iter()
            .enumerate()
            .filter_map(|(k, a)| {
                let positives =
                    relevant_sets(model, &a.session, f32::MIN_POSITIVE).remove(&a.user)?;
                Some(Group {
                    user: a.user,
                    moment: a.moment.get(model, Some),
                    positives,
                    shown: None,
                    seed: (u64::from(a.user) ^ 0x5eed) ^ ((k as u64 + 1) << 32),
                })
            })
            .collect();
        tracing::info!(
            groups = groups.len(),
            "ranker example groups at the moment after a search, labelled by its session"
        );
        groups
    }
}

/// Candidates and labels for every group with at least one positive among its candidates.
pub fn collect(
    model: &Model,
    groups: &[Group],
    cands: &CandidateConfig,
    max_negatives: usize,
) -> Examples {
    let per_user: Vec<(Vec<f32>, Vec<f32>)> = groups
        .par_iter()
        .map(|g| {
            let mut state = UserState::from_model(model, g.user);
            state.moment = g.moment.clone();
            let c = pipeline::candidates(model, &state, cands);
            let pos = &g.positives;
            let d = NAMES.len();
            // Shown-and-ignored candidates, when this user's showings were recorded.
            let shown_here: Option<HashSet<u32>> = g.shown.map(|s| {
                c.items
                    .iter()
                    .copied()
                    .filter(|i| s.contains(i) && !pos.contains(i))
                    .collect()
            });
            let shown_here = shown_here.filter(|s| !s.is_empty());
            let is_negative = |item: &u32| match &shown_here {
                Some(s) => s.contains(item),
                None => !pos.contains(item),
            };
            // Negatives are sampled uniformly from the whole candidate list. Keeping the first
            // ones instead would drop every negative of the generators merged last, and the
            // ranker would learn that their candidates are always positives.
            let n_neg = c.items.iter().filter(|i| is_negative(i)).count();
            let keep_p = if n_neg > max_negatives {
                max_negatives as f64 / n_neg as f64
            } else {
                1.0
            };
            let mut rng = ChaCha8Rng::seed_from_u64(g.seed);
            let (mut x, mut y) = (Vec::new(), Vec::new());
            for (k, item) in c.items.iter().enumerate() {
                let label = pos.contains(item);
                if !label && (!is_negative(item) || keep_p < 1.0 && rng.random::<f64>() >= keep_p) {
                    continue;
                }
                x.extend_from_slice(&c.features[k * d..(k + 1) * d]);
                y.push(if label { 1.0 } else { 0.0 });
            }
            if y.iter().any(|&l| l > 0.0) {
                (x, y)
            } else {
                (Vec::new(), Vec::new())
            }
        })
        .collect();
    let mut ex = Examples {
        features: NAMES.to_vec(),
        ..Examples::default()
    };
    for (x, y) in per_user.into_iter().filter(|(_, y)| !y.is_empty()) {
        let start = ex.y.len();
        ex.x.extend(x);
        ex.y.extend(y);
        ex.groups.push((start, ex.y.len()));
    }
    ex
}

/// What training chose, with the validation NDCG@10 of each kind tried.
#[derive(Debug)]
pub struct Trained {
    /// The chosen ranker.
    pub ranker: Ranker,
    /// What was chosen, in words: its kind, and whether it reads the moment.
    pub label: String,
    /// The logistic ranker when the chosen one is the MLP: the server's cheaper ranker under
    /// overload ([`recd_model::Model::light_ranker`]).
    pub light: Option<Ranker>,
    /// `(kind, validation NDCG@10 within the candidate lists)`.
    pub scores: Vec<(String, f64)>,
}

/// One ranker tried: its label, the ranker, its validation NDCG@10.
struct Tried {
    label: String,
    ranker: Ranker,
    ndcg: f64,
}

/// Trains the configured kind(s), each on every feature and on all but the moment's
/// ([`MOMENT`]), and returns the best on the validation slice.
pub fn train(ex: &Examples, params: &RankerParams, progress: &dyn Progress) -> Trained {
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let (mut train_g, mut val_g) = (Vec::new(), Vec::new());
    for g in &ex.groups {
        if rng.random::<f64>() < params.validation_fraction {
            val_g.push(*g)
        } else {
            train_g.push(*g)
        }
    }
    let fixed = fixed_ranker();
    if train_g.is_empty() || val_g.is_empty() {
        tracing::warn!(
            groups = ex.groups.len(),
            "too few ranker examples; using the fixed blend"
        );
        return Trained {
            label: fixed.kind.clone(),
            ranker: fixed,
            light: None,
            scores: Vec::new(),
        };
    }
    let rows = |gs: &[(usize, usize)]| gs.iter().flat_map(|&(a, b)| a..b).collect::<Vec<usize>>();
    let (train_rows, val_rows) = (rows(&train_g), rows(&val_g));
    let mut tried = vec![Tried {
        label: fixed.kind.clone(),
        ndcg: group_ndcg(&fixed, ex, &val_g),
        ranker: fixed.clone(),
    }];
    // A feature constant over the training rows teaches nothing, and a ranker reading it
    // would weigh whatever it is at serving with an untrained weight over a zero deviation
    // (`search_match` when the log has no searches but users search later): every ranker
    // ignores it. Its column stays, so the fits are those it would get without this.
    let constant = constant_features(ex, &train_rows);
    if !constant.is_empty() {
        tracing::info!(
            ?constant,
            "features constant over the ranker's examples, ignored"
        );
    }
    for (suffix, set) in [("", None), (" without moment", Some(ex.without(&MOMENT)))] {
        let set = set.as_ref().unwrap_or(ex);
        let (mean, std) = moments(&set.x, &train_rows, set.features.len());
        let mut fit = |mut ranker: Ranker| {
            constant.iter().for_each(|f| ranker.ignore(f));
            tried.push(Tried {
                label: format!("{}{suffix}", ranker.kind),
                ndcg: group_ndcg(&ranker, set, &val_g),
                ranker,
            })
        };
        // Trained beside an MLP too (a closed-form solve, seconds): it is the MLP's light
        // ranker.
        if ["logistic", "mlp", "auto"].contains(&params.kind.as_str()) {
            fit(logistic(set, &train_rows, &mean, &std, params.l2));
        }
        if params.kind == "mlp" || params.kind == "auto" {
            fit(mlp(
                set,
                &train_rows,
                &val_rows,
                &mean,
                &std,
                params,
                progress,
            ));
        }
    }
    let scores: Vec<(String, f64)> = tried.iter().map(|t| (t.label.clone(), t.ndcg)).collect();
    tracing::info!(
        ?scores,
        examples = ex.n(),
        "ranker validation NDCG@10 within candidates"
    );
    let forced = params.kind != "auto";
    let best = tried
        .iter()
        .filter(|t| !forced || t.ranker.kind == params.kind)
        .max_by(|a, b| a.ndcg.total_cmp(&b.ndcg))
        .unwrap_or(&tried[0]);
    // The light ranker reads what the ranker reads (the loader checks it).
    let light = tried
        .iter()
        .find(|t| t.ranker.kind == "logistic" && t.ranker.features == best.ranker.features)
        .map(|t| bound(&t.ranker))
        .filter(|_| best.ranker.kind == "mlp");
    Trained {
        ranker: bound(&best.ranker),
        label: best.label.clone(),
        light,
        scores,
    }
}

/// `ranker` reading the pipeline's rows ([`NAMES`]) through its feature names, as a loaded
/// model's ranker does: one fitted on some of the features (without the moment's, or without
/// a constant one) is scored by the trainer's evaluation and gate on full rows.
fn bound(ranker: &Ranker) -> Ranker {
    let mut r = ranker.clone();
    match r.bind(&NAMES) {
        Ok(()) => r,
        // Cannot happen: the examples' features are some of `NAMES`.
        Err(e) => {
            tracing::error!(error = %e, "a trained ranker does not read the pipeline's rows; using the fixed blend");
            fixed_ranker()
        }
    }
}

/// The features whose value is the same in every row of `rows`.
fn constant_features(ex: &Examples, rows: &[usize]) -> Vec<&'static str> {
    let d = ex.features.len();
    let Some(&first) = rows.first() else {
        return Vec::new();
    };
    let row = |r: usize| &ex.x[r * d..(r + 1) * d];
    (0..d)
        .filter(|&k| rows.iter().all(|&r| row(r)[k] == row(first)[k]))
        .map(|k| ex.features[k])
        .collect()
}

fn moments(x: &[f32], rows: &[usize], d: usize) -> (Vec<f32>, Vec<f32>) {
    let n = rows.len().max(1) as f64;
    let mut mean = vec![0f64; d];
    for &r in rows {
        for k in 0..d {
            mean[k] += x[r * d + k] as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0f64; d];
    for &r in rows {
        for k in 0..d {
            let c = x[r * d + k] as f64 - mean[k];
            var[k] += c * c;
        }
    }
    let std = var
        .iter()
        .map(|v| ((v / n).sqrt() as f32).max(1e-6))
        .collect();
    (mean.iter().map(|m| *m as f32).collect(), std)
}

fn standardized(ex: &Examples, r: usize, mean: &[f32], std: &[f32], out: &mut [f32]) {
    let d = mean.len();
    for k in 0..d {
        out[k] = (ex.x[r * d + k] - mean[k]) / std[k];
    }
}

/// Logistic regression by Newton's method (IRLS) with an L2 penalty: exact and fast for a
/// few dozen features, no learning rate to tune.
fn logistic(ex: &Examples, rows: &[usize], mean: &[f32], std: &[f32], l2: f32) -> Ranker {
    let d = mean.len();
    let p = d + 1;
    let mut w = vec![0f64; p];
    let mut z = vec![0f32; d];
    let lambda = (l2 as f64).max(1e-6) * rows.len() as f64;
    for _ in 0..25 {
        let mut grad = vec![0f64; p];
        let mut hess = vec![0f64; p * p];
        for &r in rows {
            standardized(ex, r, mean, std, &mut z);
            let mut s = w[d];
            for k in 0..d {
                s += w[k] * z[k] as f64;
            }
            let prob = 1.0 / (1.0 + (-s).exp());
            let g = prob - ex.y[r] as f64;
            let h = (prob * (1.0 - prob)).max(1e-9);
            for a in 0..p {
                let za = if a < d { z[a] as f64 } else { 1.0 };
                grad[a] += g * za;
                for b in 0..=a {
                    let zb = if b < d { z[b] as f64 } else { 1.0 };
                    hess[a * p + b] += h * za * zb;
                }
            }
        }
        for a in 0..p {
            for b in 0..a {
                hess[b * p + a] = hess[a * p + b];
            }
            if a < d {
                grad[a] += lambda * w[a];
                hess[a * p + a] += lambda;
            }
        }
        let Some(step) = solve_spd(&hess, &grad, p) else {
            break;
        };
        let mut norm = 0.0;
        for a in 0..p {
            w[a] -= step[a];
            norm += step[a] * step[a];
        }
        if norm.sqrt() < 1e-6 {
            break;
        }
    }
    Ranker::new(
        ex.features.iter().map(|s| s.to_string()).collect(),
        mean.to_vec(),
        std.to_vec(),
        vec![Layer {
            n_in: d,
            n_out: 1,
            weights: w[..d].iter().map(|v| *v as f32).collect(),
            bias: vec![w[d] as f32],
        }],
        "logistic",
    )
}

/// Solves `a x = b` for a symmetric positive definite `a` by Cholesky; `None` if singular.
fn solve_spd(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    let mut y = vec![0f64; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    let mut x = vec![0f64; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * n + i];
    }
    Some(x)
}

/// Mean NDCG@10 of the ranker's order within each group (the ranking the ranker controls).
pub fn group_ndcg(ranker: &Ranker, ex: &Examples, groups: &[(usize, usize)]) -> f64 {
    let d = ex.features.len();
    let mut total = 0.0;
    for &(a, b) in groups {
        let scores = ranker.score(&ex.x[a * d..b * d]);
        let mut order: Vec<usize> = (0..b - a).collect();
        order.sort_by(|&i, &j| scores[j].total_cmp(&scores[i]).then(i.cmp(&j)));
        let n_pos = ex.y[a..b].iter().filter(|&&y| y > 0.0).count();
        let dcg: f64 = order
            .iter()
            .take(10)
            .enumerate()
            .filter(|(_, k)| ex.y[a + **k] > 0.0)
            .map(|(r, _)| 1.0 / (r as f64 + 2.0).log2())
            .sum();
        let idcg: f64 = (0..n_pos.min(10))
            .map(|r| 1.0 / (r as f64 + 2.0).log2())
            .sum();
        total += if idcg > 0.0 { dcg / idcg } else { 0.0 };
    }
    total / groups.len().max(1) as f64
}

/// An MLP with ReLU hidden layers and a sigmoid output, trained with Adam on the logistic
/// loss in mini-batches; the epoch with the best validation loss is kept (early stopping).
fn mlp(
    ex: &Examples,
    train_rows: &[usize],
    val_rows: &[usize],
    mean: &[f32],
    std: &[f32],
    params: &RankerParams,
    progress: &dyn Progress,
) -> Ranker {
    let d = mean.len();
    let mut rng = mlp::rng(params.seed);
    let mut widths = vec![d];
    widths.extend(params.hidden.iter().copied());
    widths.push(1);
    let mut net = Net::new(&widths, &mut rng);
    let mut adam = Adam::new(&net);
    let mut best = (f64::INFINITY, net.clone());
    let mut order = train_rows.to_vec();
    let mut patience = 0;
    let gather = |rows: &[usize]| -> (Vec<f32>, Vec<f32>) {
        let mut x = vec![0f32; rows.len() * d];
        for (k, &r) in rows.iter().enumerate() {
            standardized(ex, r, mean, std, &mut x[k * d..(k + 1) * d]);
        }
        (x, rows.iter().map(|&r| ex.y[r]).collect())
    };
    let (val_x, val_y) = gather(val_rows);
    for epoch in 0..params.epochs {
        for i in (1..order.len()).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        for batch in order.chunks(256) {
            let (x, y) = gather(batch);
            let mut grads = net.zeros_like();
            net.backward(&x, &y, &mut grads);
            adam.step(
                &mut net,
                &grads,
                batch.len() as f32,
                params.learning_rate,
                params.l2,
            );
        }
        progress.advance("ranker epochs", epoch as u64 + 1, params.epochs as u64);
        let logits = net.forward(&val_x, val_y.len());
        let val_loss = logits
            .iter()
            .zip(&val_y)
            .map(|(s, y)| {
                let (s, y) = (*s as f64, *y as f64);
                (1.0 + (-s.abs()).exp()).ln() + s.max(0.0) - y * s
            })
            .sum::<f64>()
            / val_y.len().max(1) as f64;
        tracing::debug!(epoch, val_loss, "mlp epoch");
        if val_loss < best.0 - 1e-5 {
            best = (val_loss, net.clone());
            patience = 0;
        } else {
            patience += 1;
            if patience >= 3 {
                break;
            }
        }
    }
    Ranker::new(
        ex.features.iter().map(|s| s.to_string()).collect(),
        mean.to_vec(),
        std.to_vec(),
        best.1.layers,
        "mlp",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Examples where the label is decided by one feature (with noise in the others): both
    /// learners must rank positives first.
    fn synthetic() -> Examples {
        with_signal_in("trending")
    }

    /// Examples whose label shows in the feature `signal` alone.
    fn with_signal_in(signal: &str) -> Examples {
        let d = NAMES.len();
        let signal = NAMES.iter().position(|n| *n == signal).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut ex = Examples {
            features: NAMES.to_vec(),
            ..Examples::default()
        };
        for _ in 0..200 {
            let start = ex.y.len();
            for k in 0..20 {
                let pos = k < 2;
                for f in 0..d {
                    let noise = rng.random::<f32>();
                    // The fixed blend ignores trending, and every moment feature.
                    ex.x.push(if f == signal {
                        noise + if pos { 1.5 } else { 0.0 }
                    } else {
                        noise
                    });
                }
                ex.y.push(if pos { 1.0 } else { 0.0 });
            }
            ex.groups.push((start, ex.y.len()));
        }
        ex
    }

    #[test]
    fn both_learners_find_the_signal() {
        let ex = synthetic();
        let params = RankerParams {
            epochs: 20,
            ..RankerParams::default()
        };
        let t = train(&ex, &params, &crate::train::LogProgress);
        for (kind, ndcg) in &t.scores {
            if kind != "fixed" {
                assert!(*ndcg > 0.9, "{kind} reached only {ndcg}");
            }
        }
        assert_ne!(t.ranker.kind, "fixed");
    }

    #[test]
    fn a_feature_constant_in_training_is_ignored_by_every_ranker() {
        let mut ex = synthetic();
        let d = NAMES.len();
        let k = NAMES.iter().position(|n| *n == "search_match").unwrap();
        ex.x.chunks_exact_mut(d).for_each(|row| row[k] = 0.0);
        let params = RankerParams {
            epochs: 5,
            ..RankerParams::default()
        };
        let t = train(&ex, &params, &crate::train::LogProgress);
        assert_ne!(t.ranker.kind, "fixed");
        // The value it takes at serving changes no score.
        let rows = ex.x[..40 * d].to_vec();
        let mut searched = rows.clone();
        searched.chunks_exact_mut(d).for_each(|row| row[k] = 1.0);
        for ranker in [Some(&t.ranker), t.light.as_ref()].into_iter().flatten() {
            assert_eq!(
                ranker.score(&rows),
                ranker.score(&searched),
                "{}",
                ranker.kind
            );
            assert_eq!(ranker.score(&rows).len(), 40);
        }
    }

    #[test]
    fn a_ranker_fitted_without_the_moment_reads_the_pipelines_rows_as_when_loaded() {
        let ex = synthetic();
        let d = NAMES.len();
        let without = ex.without(&MOMENT);
        let all: Vec<usize> = (0..without.n()).collect();
        let (mean, std) = moments(&without.x, &all, without.features.len());
        let fitted = bound(&logistic(&without, &all, &mean, &std, 1.0));
        let rows = &ex.x[..40 * d];
        let mut loaded: Ranker =
            serde_json::from_str(&serde_json::to_string(&fitted).unwrap()).unwrap();
        loaded.bind(&NAMES).unwrap();
        assert_eq!(fitted.score(rows), loaded.score(rows));
        assert_eq!(fitted.score(rows).len(), 40);
    }

    #[test]
    fn an_mlp_comes_with_the_logistic_ranker_as_its_light_ranker() {
        let ex = synthetic();
        let params = |kind: &str| RankerParams {
            kind: kind.into(),
            epochs: 5,
            ..RankerParams::default()
        };
        let mlp = train(&ex, &params("mlp"), &crate::train::LogProgress);
        assert_eq!(mlp.ranker.kind, "mlp");
        let light = mlp.light.expect("an MLP carries a light ranker");
        assert_eq!(light.kind, "logistic");
        assert_eq!(light.layers().len(), 1);
        // A logistic ranker is already the light kind.
        let lr = train(&ex, &params("logistic"), &crate::train::LogProgress);
        assert_eq!(lr.ranker.kind, "logistic");
        assert!(lr.light.is_none());
    }

    #[test]
    fn rankers_are_tried_with_and_without_the_moment_and_the_light_one_reads_the_same() {
        let params = RankerParams {
            epochs: 5,
            ..RankerParams::default()
        };
        let t = train(
            &with_signal_in("device_lift"),
            &params,
            &crate::train::LogProgress,
        );
        let labels: Vec<&str> = t.scores.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            labels,
            [
                "fixed",
                "logistic",
                "mlp",
                "logistic without moment",
                "mlp without moment"
            ]
        );
        // The signal is in the moment: a ranker that reads it wins.
        assert!(
            t.ranker.features.iter().any(|f| f == "device_lift"),
            "{:?}",
            t.scores
        );
        assert!(!t.label.contains("without"), "{}", t.label);
        if let Some(light) = &t.light {
            assert_eq!(light.features, t.ranker.features);
        }
        let ex = synthetic().without(&MOMENT);
        assert_eq!(ex.features.len(), NAMES.len() - MOMENT.len());
        assert!(ex.features.iter().all(|f| !MOMENT.contains(f)));
        assert_eq!(ex.x.len(), ex.features.len() * ex.y.len());
    }

    #[test]
    fn cholesky_solves() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let x = solve_spd(&a, &[2.0, 1.0], 2).unwrap();
        assert!(
            (4.0 * x[0] + 2.0 * x[1] - 2.0).abs() < 1e-12
                && (2.0 * x[0] + 3.0 * x[1] - 1.0).abs() < 1e-12
        );
        assert!(solve_spd(&[0.0], &[1.0], 1).is_none());
    }
}
