//! The online recommendation path, without HTTP: user state → candidates → ranker →
//! post-processing → reasons in words, plus the cold-start blend and the fallback list.
//!
//! Everything here is synchronous CPU work on one `Arc<Served>` snapshot; the engine
//! ([`crate::Online::recommend`]) runs it on the compute pool under the request deadline.

mod cache;
mod config;
mod new_items;
pub mod state;

use recd_model::pipeline::{ItemMap, ItemSet};
use std::collections::HashSet;
use std::time::Instant;

use recd_features::UserFeatures;
use recd_model::pipeline::{self, Search, Source, UserState};
use recd_types::{EventKind, Signal, User};

pub use cache::{CacheKey, ResultCache};
pub use config::{Diversity, RankerChoice, ReasonWords, RecommendConfig};

use crate::catalog_view::CatalogView;
use crate::cold::{category_index, category_name};
use crate::model_watch::Served;
use crate::postprocess::{self, Pick, Reason};
use crate::search;
use recd_types::Segment;

/// One item of an answer, rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerItem {
    /// External id.
    pub item_id: String,
    /// Score.
    pub score: f32,
    /// Source name.
    pub source: &'static str,
    /// Reason in words.
    pub reason: String,
}

/// A finished answer (what the cache holds).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The request id it was made for (exploration slots derive from it).
    pub request_id: String,
    /// Model version, `None` without a model.
    pub model_version: Option<String>,
    /// True for the precomputed popular list.
    pub fallback: bool,
    /// True when the model's light ranker ranked the list (the compute threads were behind).
    pub degraded: bool,
    /// Best first.
    pub items: Vec<AnswerItem>,
    /// `"<experiment>/<variant>"` of the first layer the user is in an experiment of.
    pub variant: Option<String>,
    /// Every experiment variant the user is in, one per layer.
    pub experiments: Vec<String>,
    /// The user had nothing personal to go on: no history the model knows, no real-time
    /// interaction, no search (false when there was no model to ask).
    pub cold: bool,
}

/// A validated request.
#[derive(Debug, Clone)]
pub struct Params {
    /// The user.
    pub user_id: String,
    /// Results wanted.
    pub n: usize,
    /// `homepage`, `item_page`, ... (pinned items are per context).
    pub context: String,
    /// Client device, if sent.
    pub device: Option<String>,
    /// Restrict to one category.
    pub category: Option<String>,
    /// The request id.
    pub request_id: String,
    /// Wall-clock time of the request.
    pub now_ms: i64,
    /// The moment the list is for (time-of-day features; `Request::at_ms`).
    pub at_ms: Option<i64>,
}

/// What was read about the user before the CPU work.
pub struct Known {
    /// Real-time features, if the store has any.
    pub features: Option<UserFeatures>,
    /// The catalog profile, if any (read only for users the model cannot personalise).
    pub profile: Option<User>,
    /// The speed layer's session gap (`[features] session_gap_secs`, in ms): whether the
    /// features' session is still going at the request.
    pub session_gap_ms: i64,
}

/// Stable 64-bit hash of a string (FNV-1a): the seed of a request id's exploration slots, and
/// wherever a stable per-id number is needed.
pub fn seed_of(request_id: &str) -> u64 {
    recd_types::fnv1a(request_id.bytes())
}

/// Why a category parameter was refused.
pub struct UnknownCategory(pub String);

/// The category row of `params.category`, if any; an error if the model has no such category.
pub fn category_of(served: &Served, params: &Params) -> Result<Option<u32>, UnknownCategory> {
    match &params.category {
        None => Ok(None),
        Some(c) => category_index(&served.model, c)
            .map(Some)
            .ok_or_else(|| UnknownCategory(c.clone())),
    }
}

/// The personal (or cold-start) answer; `light` asks for the model's light ranker (when it
/// has one) instead of its ranker.
pub fn recommend(
    served: &Served,
    catalog: Option<&CatalogView>,
    params: &Params,
    known: &Known,
    profile: &dyn Fn() -> Option<User>,
    config: &RecommendConfig,
    light: bool,
) -> Answer {
    let model = &served.model;
    let started = Instant::now();
    let mut state = state::user_state(
        model,
        &served.meaning(),
        &params.user_id,
        known.features.as_ref(),
        served.manifest.data_window_ms.1,
    );
    let searches = searches(catalog, known.features.as_ref(), config);
    // Read at most once, and only when needed: for the segment of a user the model does not
    // know, or for a cold start.
    let read_profile = std::cell::OnceCell::new();
    let user_profile = || {
        read_profile
            .get_or_init(|| known.profile.clone().or_else(profile))
            .clone()
    };
    state.moment = state::moment(model, params, known, state.now_ms, user_profile);
    state.moment.searched = search::strengths(searches.iter().map(|(_, m)| m.as_slice()));
    observe("user_state", started);
    let category = category_of(served, params).ok().flatten();
    let started = Instant::now();
    let light_ranker = model.light_ranker.as_ref().filter(|_| light);
    // A search is something personal to go on, even without any item event.
    let personal = state::is_personal(&state) || !state.moment.searched.is_empty();
    let ranked = if personal {
        let mut r = ranked(served, &state, config, light_ranker, params.n);
        mark_searched(&mut r, &searches, config.search_boost);
        r
    } else {
        let p = user_profile();
        let r = cold(served, p.as_ref(), category);
        observe("cold_start", started);
        r
    };
    let started = Instant::now();
    let usual = state::usual_categories(model, &state);
    let picks = post(
        served, catalog, ranked, &state, &usual, category, params, config,
    );
    let kinds = kinds(served, known.features.as_ref());
    let queries: Vec<String> = searches.into_iter().map(|(q, _)| q).collect();
    let words = Words {
        kinds: &kinds,
        words: &config.reasons,
        queries: &queries,
    };
    let mut answer = render(served, catalog, params, picks, false, &words);
    answer.degraded = personal && light_ranker.is_some();
    answer.cold = !personal;
    if let Some(c) = catalog {
        let seen = seen_ids(known.features.as_ref());
        let slots = new_items::Slots {
            state: &state,
            seen: &seen,
            now_ms: params.now_ms,
            days: served.quotas(config).new_arrival_days,
            slots: config.new_item_slots,
            cap: category_cap(config, params),
        };
        new_items::splice(model, c, &slots, &mut answer.items);
    }
    observe("post_processing", started);
    answer
}

/// Most items of one category in a list of `params.n` (`usize::MAX`: no cap), as
/// post-processing applies it.
fn category_cap(config: &RecommendConfig, params: &Params) -> usize {
    if params.category.is_some() || config.diversity == Diversity::None {
        usize::MAX
    } else {
        (config.max_per_category * params.n).div_ceil(20).max(1)
    }
}

/// What the reasons need to name what the user did.
struct Words<'a> {
    /// Per item row, the type of the user's newest positive real-time interaction with it.
    kinds: &'a ItemMap<EventKind>,
    /// The catalog's verbs.
    words: &'a ReasonWords,
    /// The searches behind `Reason::Searched`, newest first.
    queries: &'a [String],
}

/// The user's newest searches (at most `search_queries`) with the items each proposes: the
/// catalog view's best matches for its words, with their match scores.
fn searches(
    catalog: Option<&CatalogView>,
    features: Option<&UserFeatures>,
    config: &RecommendConfig,
) -> Vec<(String, Vec<(u32, f32)>)> {
    let (Some(c), Some(f)) = (catalog, features) else {
        return Vec::new();
    };
    if config.search_candidates == 0 {
        return Vec::new();
    }
    f.recent_queries
        .iter()
        .take(config.search_queries.min(usize::from(u8::MAX)))
        .map(|q| {
            let rows = c.search.matches(&q.value, config.search_candidates);
            (q.value.clone(), rows)
        })
        .filter(|(_, rows)| !rows.is_empty())
        .collect()
}

/// Ranked items that match a recent search: their score boosted, and the search named as
/// their reason (the newest search they match).
fn mark_searched(picks: &mut [Pick], searches: &[(String, Vec<(u32, f32)>)], boost: f32) {
    if searches.is_empty() {
        return;
    }
    let sets: Vec<ItemSet> = searches
        .iter()
        .map(|(_, rows)| rows.iter().map(|&(row, _)| row).collect())
        .collect();
    for p in picks.iter_mut() {
        if let Some(k) = sets.iter().position(|s| s.contains(&p.item)) {
            p.score *= boost;
            p.source = "search";
            p.reason = Reason::Searched(k as u8);
        }
    }
}

/// The type of the newest positive real-time interaction per item row (newest first in the
/// store), under the served model's weights.
fn kinds(served: &Served, features: Option<&UserFeatures>) -> ItemMap<EventKind> {
    let mut out = ItemMap::default();
    let Some(f) = features else {
        return out;
    };
    for i in &f.recent_interactions {
        let positive = matches!(
            served.weights.signal(i.kind, i.value, i.dwell_ms),
            Signal::Positive(_)
        );
        if let (true, Some(row)) = (positive, served.model.items.get(i.item_id.as_str())) {
            out.entry(row).or_insert(i.kind);
        }
    }
    out
}

/// External ids of the items the user viewed, interacted with or rejected in real time.
fn seen_ids(features: Option<&UserFeatures>) -> HashSet<&str> {
    let Some(f) = features else {
        return HashSet::new();
    };
    f.recent_views
        .iter()
        .map(|v| v.value.as_str())
        // Every item event, negatives included.
        .chain(f.recent_interactions.iter().map(|i| i.item_id.as_str()))
        .collect()
}

/// The precomputed popular list for the context (deadline missed, or as the last resort).
pub fn fallback(
    served: &Served,
    catalog: Option<&CatalogView>,
    params: &Params,
    exclude: &ItemSet,
) -> Answer {
    let mut answer = listed(
        served,
        catalog,
        params,
        exclude,
        crate::experiments::Baseline::Popular,
    );
    answer.fallback = true;
    answer
}

/// `recd_recommend_candidates_total{source}`: candidates proposed by each generator (an item
/// proposed by two counts for both), so the mix served, and what a degraded answer leaves
/// out, show on `/metrics`.
fn count_sources(sources: &[u8]) {
    for s in Source::ALL {
        let n = sources.iter().filter(|&&b| b & s.bit() != 0).count();
        metrics::counter!("recd_recommend_candidates_total", "source" => s.as_str())
            .increment(n as u64);
    }
}

fn observe(stage: &'static str, started: Instant) {
    metrics::histogram!("recd_recommend_stage_seconds", "stage" => stage)
        .record(started.elapsed().as_secs_f64());
}

/// Pipeline candidates with their ranker scores, for post-processing (which sorts them,
/// after its boosts). The model ranks as [`pipeline::ranked`] says, or, with `light` (the
/// server is behind), by the light ranker alone over the degraded candidate set
/// ([`pipeline::CandidateConfig::degraded`]; `recd train`'s `pipeline_degraded` row). With a
/// cascade (`rerank` > 0), either way, only the head goes on: the `rerank` best, at least
/// `4 n` for the diversity cap and the exploration slots to choose from. (The light path used
/// to pass every candidate on, so post-processing and the reasons cost more for a degraded
/// answer than for a full one.)
fn ranked(
    served: &Served,
    state: &UserState,
    config: &RecommendConfig,
    light: Option<&recd_model::ranker::Ranker>,
    n: usize,
) -> Vec<Pick> {
    let model = &served.model;
    let started = Instant::now();
    // Behind: the degraded quotas too (no content generator), so the queue drains faster.
    let quotas = served.quotas(config);
    let head = match quotas.rerank {
        0 => usize::MAX,
        k => k.max(4 * n),
    };
    let quotas = match light {
        Some(_) => quotas.degraded(),
        None => quotas,
    };
    let c = pipeline::candidates_with(model, state, &quotas, Search::Indexed);
    observe("candidates", started);
    count_sources(&c.sources);
    let started = Instant::now();
    // The head re-ranked and passed on; with the cascade off (`rerank = 0`), every
    // candidate, which `pipeline::ranked` then ranks by the ranker alone.
    // Search matches pass on whatever their rank: the search boost comes after ranking.
    let depth = if state.moment.searched.is_empty() {
        head
    } else {
        usize::MAX
    };
    // Asked for the logistic ranker (an experiment arm): over the full candidates.
    let chosen = match config.ranker {
        RankerChoice::Logistic => model.light_ranker.as_ref(),
        RankerChoice::Model => None,
    };
    let scored: Vec<(u32, f32)> = match light.or(chosen) {
        Some(ranker) => pipeline::ranked_by(ranker, &c, depth),
        None => pipeline::ranked(model, &c, head, depth),
    };
    observe("ranking", started);
    scored
        .into_iter()
        .map(|(k, logit)| {
            let k = k as usize;
            let (source, reason) = explain(served, c.items[k], c.sources[k], c.because[k]);
            Pick {
                item: c.items[k],
                score: recd_model::ranker::sigmoid(logit),
                source,
                reason,
            }
        })
        .collect()
}

/// The most specific source of a candidate and its reason (item-kNN with a "because" item
/// first, then ALS, content, new arrivals, trending, popular).
fn explain(
    served: &Served,
    item: u32,
    sources: u8,
    because: Option<u32>,
) -> (&'static str, Reason) {
    let has = |s: Source| sources & s.bit() != 0;
    // Read only for the reason that names it: this runs for every candidate.
    let cat = || served.model.meta.category[item as usize];
    match because {
        Some(j) if has(Source::ItemKnn) => ("item_knn", Reason::Because(j)),
        _ if has(Source::Als) => ("als", Reason::LikeYou),
        _ if has(Source::Content) || has(Source::ItemKnn) => ("content", Reason::SimilarRecent),
        _ if has(Source::NewArrivals) => ("new_arrivals", Reason::NewArrival),
        _ if has(Source::Trending) => ("trending", Reason::Trending(cat())),
        _ => ("popular", Reason::Popular),
    }
}

/// A list in the cold-start blend: items, weight, source name, and whether it is a trending list.
type Weighted<'a> = (&'a [(u32, f32)], f32, &'static str, bool);

/// Cold start: a blend of the precomputed lists. Each list's scores are in 0..1; an item's
/// score is the weighted sum over lists and its reason is the list that contributed most.
/// Weights favour what is most specific to the user: their demographic segment, then their
/// declared interests, then what is trending, then plain popularity.
fn cold(served: &Served, profile: Option<&User>, category: Option<u32>) -> Vec<Pick> {
    let model = &served.model;
    let lists = &served.lists;
    let mut blend: Vec<Weighted<'_>> = Vec::new();
    if let Some(c) = category {
        blend.push((
            &lists.popular_by_category[c as usize],
            1.0,
            "popular",
            false,
        ));
        blend.push((
            &lists.trending_by_category[c as usize],
            0.8,
            "trending",
            true,
        ));
    } else {
        blend.push((&lists.popular, 0.6, "popular", false));
        blend.push((&lists.trending, 0.5, "trending", true));
    }
    if let Some(p) = profile {
        if let Some(seg) = Segment::of(p).and_then(|s| lists.by_segment.get(&s)) {
            blend.push((seg, 1.0, "segment", false));
        }
        for interest in &p.interests {
            if let Some(c) = category_index(model, interest) {
                blend.push((
                    &lists.trending_by_category[c as usize],
                    0.8,
                    "trending",
                    true,
                ));
                blend.push((
                    &lists.popular_by_category[c as usize],
                    0.7,
                    "popular",
                    false,
                ));
            }
        }
    }
    // Hashed like the pipeline's item maps (foldhash), sized once: this runs for every
    // cold-start request, over up to 500 items per list.
    let total = blend.iter().map(|b| b.0.len()).sum();
    let mut acc: ItemMap<(f32, f32, &'static str, bool)> =
        ItemMap::with_capacity_and_hasher(total, Default::default());
    for (list, w, source, trending) in blend {
        for &(item, s) in list {
            let e = acc.entry(item).or_insert((0.0, 0.0, source, trending));
            e.0 += w * s;
            if w * s > e.1 {
                (e.1, e.2, e.3) = (w * s, source, trending);
            }
        }
    }
    let best = acc.values().map(|e| e.0).fold(0f32, f32::max).max(1e-9);
    let mut out: Vec<Pick> = acc
        .into_iter()
        .map(|(item, (score, _, source, trending))| Pick {
            item,
            score: score / best,
            source,
            reason: match source {
                "segment" => Reason::LikeYou,
                _ if trending => Reason::Trending(model.meta.category[item as usize]),
                _ => Reason::Popular,
            },
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
    out
}

#[allow(clippy::too_many_arguments)]
fn post(
    served: &Served,
    catalog: Option<&CatalogView>,
    ranked: Vec<Pick>,
    state: &UserState,
    usual: &ItemSet,
    category: Option<u32>,
    params: &Params,
    config: &RecommendConfig,
) -> Vec<Pick> {
    let model = &served.model;
    let pinned: Vec<u32> = config
        .pinned
        .get(&params.context)
        .map(|ids| ids.iter().filter_map(|id| model.items.get(id)).collect())
        .unwrap_or_default();
    let live = catalog.map_or(&served.trained_live, |c| &c.rows);
    let req = postprocess::Request {
        n: params.n,
        exclude: &state.exclude,
        live,
        category,
        pinned: &pinned,
        usual_categories: usual,
        now_ms: state.now_ms,
        new_arrival_days: served.quotas(config).new_arrival_days,
        seed: seed_of(&params.request_id),
    };
    postprocess::finish(model, ranked, &req, config)
}

/// Picks → the rendered answer.
fn render(
    served: &Served,
    catalog: Option<&CatalogView>,
    params: &Params,
    picks: Vec<Pick>,
    fallback: bool,
    words: &Words<'_>,
) -> Answer {
    let model = &served.model;
    let title = |i: u32| {
        catalog
            .and_then(|c| c.titles.get(i as usize))
            .filter(|t| !t.is_empty())
            .cloned()
            .unwrap_or_else(|| model.items.name(i).to_string())
    };
    let items = picks
        .into_iter()
        .map(|p| AnswerItem {
            item_id: model.items.name(p.item).to_string(),
            score: p.score,
            source: p.source,
            reason: match p.reason {
                Reason::Because(j) => format!(
                    "because you {} {}",
                    words.words.verb(words.kinds.get(&j).copied()),
                    title(j)
                ),
                Reason::LikeYou => "popular with people like you".into(),
                Reason::SimilarRecent => "similar to your recent views".into(),
                Reason::Trending(_) => match category_name(model, p.item) {
                    Some(c) => format!("trending in {c}"),
                    None => "trending".into(),
                },
                Reason::NewArrival => "new arrival".into(),
                Reason::Searched(k) => match words.queries.get(usize::from(k)) {
                    Some(q) => format!("because you searched for {q}"),
                    None => "matches your search".into(),
                },
                Reason::Exploration(_) => match category_name(model, p.item) {
                    Some(c) => format!("something different: {c}"),
                    None => "something different".into(),
                },
                Reason::Popular => "popular".into(),
                Reason::Pinned => "featured".into(),
            },
        })
        .collect();
    Answer {
        request_id: params.request_id.clone(),
        model_version: Some(served.version().to_string()),
        fallback,
        degraded: false,
        items,
        variant: None,
        experiments: Vec::new(),
        cold: false,
    }
}

/// A built-in non-personal list (an experiment's `baseline` variant): the model's popular or
/// trending list for the context, without what the user's state excludes.
pub fn baseline(
    served: &Served,
    catalog: Option<&CatalogView>,
    params: &Params,
    known: &Known,
    which: crate::experiments::Baseline,
) -> Answer {
    let state = state::user_state(
        &served.model,
        &served.meaning(),
        &params.user_id,
        known.features.as_ref(),
        served.manifest.data_window_ms.1,
    );
    let mut answer = listed(served, catalog, params, &state.exclude, which);
    answer.cold = !state::is_personal(&state);
    answer
}

/// The model's popular or trending list for the context (its category's, when it names
/// one), available items only, without `exclude`.
fn listed(
    served: &Served,
    catalog: Option<&CatalogView>,
    params: &Params,
    exclude: &ItemSet,
    which: crate::experiments::Baseline,
) -> Answer {
    use crate::experiments::Baseline;
    let category = category_of(served, params).ok().flatten();
    let lists = &served.lists;
    let (list, source) = match (which, category) {
        (Baseline::Popular, _) => (lists.fallback(category), "popular"),
        (Baseline::Trending, Some(c)) => (
            lists
                .trending_by_category
                .get(c as usize)
                .map_or(&lists.trending[..], |l| &l[..]),
            "trending",
        ),
        (Baseline::Trending, None) => (&lists.trending[..], "trending"),
    };
    let avail = |i: u32| {
        catalog.map_or(served.model.meta.available[i as usize], |c| {
            c.is_available(i)
        })
    };
    let model = &served.model;
    let picks: Vec<Pick> = list
        .iter()
        .filter(|(i, _)| avail(*i) && !exclude.contains(i))
        .take(params.n)
        .map(|&(item, score)| Pick {
            item,
            score,
            source,
            reason: match which {
                Baseline::Popular => Reason::Popular,
                Baseline::Trending => Reason::Trending(model.meta.category[item as usize]),
            },
        })
        .collect();
    let (kinds, words) = (ItemMap::default(), ReasonWords::default());
    let words = Words {
        kinds: &kinds,
        words: &words,
        queries: &[],
    };
    render(served, catalog, params, picks, false, &words)
}
