//! The two-stage recommendation pipeline: candidate generation, then ranking.
//!
//! One implementation used by every caller: the HTTP server, `recd recommend`, the trainer's
//! evaluation and the trainer's ranker examples (which is why feature code lives here and not
//! in the trainer: the ranker learns on exactly the features it is served with).
//!
//! 1. [`signals`]: what the user's history says about every item (recency-weighted item-kNN
//!    score and the history item behind it, content profile, category shares).
//! 2. `generate`: candidates from each generator (item-kNN, ALS, content, popular, trending),
//!    merged and deduplicated, each keeping the set of generators that proposed it.
//! 3. [`features`]: one feature row per candidate ([`features::NAMES`]).
//! 4. [`ranked`]: the ranker scores the rows in one batched pass (with a light ranker, a
//!    cascade: the light ranker scores all, the ranker its best `rerank`); the best `n` are
//!    returned.
//!
//! Post-processing (diversity, business rules, explanations in words) belongs to the online
//! layer; this module returns the raw material for it: sources and the "because" item.

pub mod features;
mod generate;
pub mod signals;

use std::collections::HashSet;

/// A set of item rows (or other row numbers, such as category indexes). Hashed with foldhash
/// rather than std's SipHash: membership tests run for every candidate of every generator,
/// and SipHash was a visible share of a request's CPU in a profile on ml-100k
/// (`examples/pipeline_cost.rs`); the keys are our own row numbers, so hash flooding is not a
/// concern.
pub type ItemSet = HashSet<u32, foldhash::fast::FixedState>;

/// A map keyed by item rows (or other row numbers), hashed as [`ItemSet`] for the same reason.
pub type ItemMap<V> = std::collections::HashMap<u32, V, foldhash::fast::FixedState>;

pub use generate::{
    CandidateConfig, Search, Source, best_first_key, from_key, generate_each, push_keys, top_n,
    top_n_kept,
};

use crate::Model;
use crate::ranker::{Ranker, sigmoid};

/// What is known about the user at request time.
#[derive(Debug, Clone, Default)]
pub struct UserState {
    /// The user's ALS vector (trained, or folded in from recent events), if any.
    pub vector: Option<Vec<f32>>,
    /// Interactions in time order, `(item row, weight)`; weight > 0 positive, ≤ 0 negative.
    pub history: Vec<(u32, f32)>,
    /// Items never to return (seen, disliked, unavailable).
    pub exclude: ItemSet,
    /// The request time (features such as item age and hour of day use it).
    pub now_ms: i64,
    /// The request's moment: time of day, device, page, segment, session.
    pub moment: Moment,
}

/// What the request says about its moment, read by the context features
/// ([`features::NAMES`]: `session_category` and the lifts of [`crate::context`]). Training
/// fills it from the log's fields at the labelled interaction, serving from the request and
/// the speed layer's session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Moment {
    /// When the request is made (ms since the epoch), for the hour-of-day features; `None`
    /// when there is no request time (a batch list made ahead), which leaves them at zero.
    pub at_ms: Option<i64>,
    /// The client's device class.
    pub device: Option<String>,
    /// The page or placement.
    pub page: Option<String>,
    /// The user's demographic segment ([`recd_types::Segment::key`]).
    pub segment: Option<String>,
    /// The category of the newest item of the user's session, if the session is still going.
    pub session_category: Option<u32>,
    /// How strongly items match the user's newest searches (item row, strength in (0, 1]),
    /// sorted by row ([`crate::search::strengths`]): these items are merged as content
    /// candidates, and their strength is the `search_match` feature.
    pub searched: Vec<(u32, f32)>,
}

impl UserState {
    /// The state of a user the model was trained on: their stored vector and history, all
    /// history items excluded, `now` = their last training event.
    pub fn from_model(model: &Model, user_row: u32) -> Self {
        let (items, weights) = model.history.row(user_row as usize);
        let history: Vec<(u32, f32)> = items.iter().copied().zip(weights.iter().copied()).collect();
        Self {
            vector: model
                .user_factors
                .get(user_row as usize)
                .map(<[f32]>::to_vec),
            exclude: items.iter().copied().collect(),
            history,
            now_ms: model
                .user_last_ms
                .get(user_row as usize)
                .copied()
                .unwrap_or(0),
            moment: Moment::default(),
        }
    }
}

/// One recommended item.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Item row.
    pub item: u32,
    /// Ranker probability in 0..1.
    pub score: f32,
    /// Bit set of the [`Source`]s that proposed it.
    pub sources: u8,
    /// The history item that contributed most to its item-kNN score, if any.
    pub because: Option<u32>,
}

/// Candidates with their feature rows, ready for the ranker (or for training it).
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    /// Item rows.
    pub items: Vec<u32>,
    /// Source bit sets, parallel to `items`.
    pub sources: Vec<u8>,
    /// "Because" items, parallel to `items`.
    pub because: Vec<Option<u32>>,
    /// Feature rows, `items.len() × features::NAMES.len()`, row-major.
    pub features: Vec<f32>,
}

/// Generates candidates for `state` and computes their features.
pub fn candidates(model: &Model, state: &UserState, config: &CandidateConfig) -> Candidates {
    candidates_with(model, state, config, Search::Exact)
}

/// [`candidates`] with the vector generators searching as `search` says (the server uses the
/// model's indexes; [`candidates`] scans every item).
pub fn candidates_with(
    model: &Model,
    state: &UserState,
    config: &CandidateConfig,
    search: Search,
) -> Candidates {
    let signals = signals::Signals::compute(model, state);
    let merged = generate::merge(model, state, &signals, config, search);
    let features = features::compute(model, state, &signals, &merged);
    Candidates {
        because: merged.iter().map(|c| signals.because(c.item)).collect(),
        items: merged.iter().map(|c| c.item).collect(),
        sources: merged.iter().map(|c| c.sources).collect(),
        features,
    }
}

/// The top `n` items for `state`, best first, ranked as the server ranks them ([`ranked`]).
pub fn recommend(
    model: &Model,
    state: &UserState,
    config: &CandidateConfig,
    n: usize,
) -> Vec<Scored> {
    let c = candidates(model, state, config);
    scored(&c, ranked(model, &c, config.rerank, n))
}

/// The model's ranking of `c`: `(candidate index, logit)`, best first (ties by item row), at
/// most `depth`.
///
/// With a light ranker and `0 < rerank < candidates` this is a cascade: the light ranker (19
/// multiply-adds a candidate) scores every candidate, the ranker (the MLP: 12,704) re-scores
/// the light ranker's best `rerank`, which come first in the ranker's order, and the rest
/// follow in the light ranker's order, with its logits. Otherwise the ranker scores every
/// candidate. The MLP over every candidate cost as much as generating them on the 1M × 100k
/// model; `recd train` evaluates this function as its `pipeline` row, so the quality served
/// is the quality measured.
pub fn ranked(model: &Model, c: &Candidates, rerank: usize, depth: usize) -> Vec<(u32, f32)> {
    let n = c.items.len();
    let all: Vec<u32> = (0..n as u32).collect();
    let Some(light) = model
        .light_ranker
        .as_ref()
        .filter(|_| rerank > 0 && rerank < n)
    else {
        return best(c, &all, &model.ranker.score(&c.features), depth);
    };
    let mut order = best(c, &all, &light.score(&c.features), depth.max(rerank));
    let d = features::NAMES.len();
    let head: Vec<u32> = order[..rerank].iter().map(|&(k, _)| k).collect();
    let rows: Vec<f32> = head
        .iter()
        .flat_map(|&k| &c.features[k as usize * d..(k as usize + 1) * d])
        .copied()
        .collect();
    let top = best(c, &head, &model.ranker.score(&rows), rerank);
    order.splice(..rerank, top);
    order.truncate(depth);
    order
}

/// The best `depth` of candidates `rows` by `logits` (parallel to `rows`), best first, ties
/// by item row; sorted by [`best_first_key`] (only the head when `depth` is shorter).
fn best(c: &Candidates, rows: &[u32], logits: &[f32], depth: usize) -> Vec<(u32, f32)> {
    let mut keys: Vec<(u64, u32)> = rows
        .iter()
        .zip(logits)
        .map(|(&k, &l)| (best_first_key(c.items[k as usize], l), k))
        .collect();
    generate::select_best(&mut keys, depth);
    keys.into_iter()
        .map(|(key, k)| (k, from_key(key).1))
        .collect()
}

/// The top `n` of `c` as `ranker` alone scores them, best first (ties by item row).
pub fn rank(ranker: &Ranker, c: &Candidates, n: usize) -> Vec<Scored> {
    scored(c, ranked_by(ranker, c, n))
}

/// [`ranked`] by `ranker` alone (the server's light ranking when it is behind): `(candidate
/// index, logit)`, best first (ties by item row), at most `depth`.
pub fn ranked_by(ranker: &Ranker, c: &Candidates, depth: usize) -> Vec<(u32, f32)> {
    let all: Vec<u32> = (0..c.items.len() as u32).collect();
    best(c, &all, &ranker.score(&c.features), depth)
}

/// `(candidate index, logit)` pairs as [`Scored`] items.
fn scored(c: &Candidates, order: Vec<(u32, f32)>) -> Vec<Scored> {
    order
        .into_iter()
        .map(|(k, logit)| {
            let k = k as usize;
            Scored {
                item: c.items[k],
                score: sigmoid(logit),
                sources: c.sources[k],
                because: c.because[k],
            }
        })
        .collect()
}
