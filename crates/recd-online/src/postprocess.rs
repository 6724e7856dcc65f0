//! Post-processing of a ranked list: filters, business rules, pinned items, diversity and
//! exploration, in that order. Pure functions over item rows, so every rule is unit-tested
//! without a server.
//!
//! Order matters and is deliberate: filters first (nothing unavailable or already seen may
//! come back whatever a rule says), then boosts (they change the order diversity sees), then
//! pinned items (business promises beat diversity), then the diversified fill, then
//! exploration, which replaces a few slots with items from outside the user's usual
//! categories at positions derived from the request id, so the same request id always gets
//! the same list (replayable, and A/B-countable).

use std::ops::RangeInclusive;

use recd_model::als::prefetch;
use recd_model::pipeline::{ItemMap, ItemSet};

use recd_model::{Model, NO_CATEGORY};

use crate::recommend::{Diversity, RecommendConfig};

/// Why an item is on the list (rendered to words at the HTTP edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// "because you watched X": the history item behind its item-kNN score.
    Because(u32),
    /// "popular with people like you" (collaborative: ALS or the demographic segment).
    LikeYou,
    /// "similar to your recent views" (content).
    SimilarRecent,
    /// "trending in C" (or "trending" without a category).
    Trending(u32),
    /// "new arrival".
    NewArrival,
    /// "something different: C": an exploration slot, from outside the usual categories.
    Exploration(u32),
    /// "because you searched for Q": the item matches the user's `n`-th newest search.
    Searched(u8),
    /// "popular".
    Popular,
    /// "featured" (a pinned item).
    Pinned,
}

/// One item on its way to the answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pick {
    /// Item row.
    pub item: u32,
    /// Score; higher is better.
    pub score: f32,
    /// The generator or rule that put it here (`als`, `segment`, `exploration`, ...).
    pub source: &'static str,
    /// Why.
    pub reason: Reason,
}

/// What the rules need to know about an item now (the live catalog, or the model's view of
/// it at training time). One value per item, read once per candidate: three separate
/// per-item arrays cost three cache misses per candidate, a visible share of the server's
/// CPU in a profile on the 1M x 100k model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    /// Creation time, `i64::MIN` when unknown.
    pub created_ms: i64,
    /// May be shown.
    pub available: bool,
    /// Sponsored.
    pub sponsored: bool,
}

/// A row the live state does not cover.
const UNAVAILABLE: Live = Live {
    created_ms: i64::MIN,
    available: false,
    sponsored: false,
};

/// What the rules need to know about the request.
pub struct Request<'a> {
    /// Results wanted.
    pub n: usize,
    /// Items never to return (history, recent views, disliked).
    pub exclude: &'a ItemSet,
    /// Availability, sponsorship and creation time by row (the catalog view; the model's
    /// flags if none). A row beyond it is unavailable.
    pub live: &'a [Live],
    /// Only this category, when the context asks for one.
    pub category: Option<u32>,
    /// Pinned rows for the context, in order.
    pub pinned: &'a [u32],
    /// The user's usual categories (exploration draws from outside them).
    pub usual_categories: &'a ItemSet,
    /// Request time, ms.
    pub now_ms: i64,
    /// Items created at most this many days before `now_ms` get the new-arrival boost.
    pub new_arrival_days: f64,
    /// Seed derived from the request id.
    pub seed: u64,
}

/// Applies every rule to `ranked` (scored and deduplicated, in any order: the boosts re-sort
/// it, so callers do not sort first) and returns at most `req.n` picks.
pub fn finish(
    model: &Model,
    mut ranked: Vec<Pick>,
    req: &Request<'_>,
    config: &RecommendConfig,
) -> Vec<Pick> {
    let cat = |i: u32| model.meta.category[i as usize];
    let new = req.now_ms - (req.new_arrival_days * 86_400_000.0) as i64..=req.now_ms;
    // Filters and boosts in one pass: each candidate's live state is read once, asked for a
    // few candidates ahead. The rows are scattered over MBs and the load of each showed in
    // the server's CPU profile at 1M x 100k: prefetching overlaps those misses.
    // (A hand-written compaction rather than `retain_mut`, whose closure cannot look ahead.)
    const AHEAD: usize = 8;
    let mut kept = 0;
    for k in 0..ranked.len() {
        if let Some(row) = ranked
            .get(k + AHEAD)
            .and_then(|a| req.live.get(a.item as usize))
        {
            prefetch(row);
        }
        let mut p = ranked[k];
        let live = req
            .live
            .get(p.item as usize)
            .copied()
            .unwrap_or(UNAVAILABLE);
        if live.available
            && !req.exclude.contains(&p.item)
            && req.category.is_none_or(|c| cat(p.item) == c)
        {
            boost(&mut p, live, &new, config);
            ranked[kept] = p;
            kept += 1;
        }
    }
    ranked.truncate(kept);
    sort_best_first(&mut ranked);
    let mut out: Vec<Pick> = Vec::with_capacity(req.n);
    let mut taken = ItemSet::default();
    for &item in req.pinned {
        if out.len() < req.n
            && req.live.get(item as usize).is_some_and(|l| l.available)
            && !req.exclude.contains(&item)
            && taken.insert(item)
        {
            let score = ranked.first().map_or(1.0, |p| p.score);
            out.push(Pick {
                item,
                score,
                source: "pinned",
                reason: Reason::Pinned,
            });
        }
    }
    // A search is intent the user has just stated: its best-ranked matches take the next
    // places whatever their score. A boost alone left them out where the ranker, trained on
    // history, scored a plainly named item low.
    let searched = ranked
        .iter()
        .filter(|p| matches!(p.reason, Reason::Searched(_)))
        .take(config.search_slots);
    for p in searched {
        if out.len() < req.n && taken.insert(p.item) {
            out.push(*p);
        }
    }
    ranked.retain(|p| !taken.contains(&p.item));
    let n_explore = if req.category.is_some() {
        0
    } else {
        ((req.n - out.len()) as f32 * config.exploration_share.clamp(0.0, 1.0)).round() as usize
    };
    let n_fill = req.n - out.len() - n_explore;
    let cap = if req.category.is_some() || config.diversity == Diversity::None {
        usize::MAX
    } else {
        (config.max_per_category * req.n).div_ceil(20).max(1)
    };
    let fill = match config.diversity {
        Diversity::Mmr => mmr(model, &ranked, n_fill, cap, config.mmr_lambda),
        Diversity::Cap | Diversity::None => capped(model, &ranked, n_fill, cap),
    };
    out.extend(fill);
    taken.extend(out.iter().map(|p| p.item));
    explore(model, &ranked, &mut out, &taken, n_explore, cap, req);
    out.truncate(req.n);
    out
}

/// Sorts best first: higher score (`f32::total_cmp`), then lower item row, a total order.
/// Sorts one 64-bit key per pick and then gathers the picks: comparing 32-byte picks
/// through `total_cmp` closures showed in the server's CPU profile at 1M x 100k.
fn sort_best_first(ranked: &mut Vec<Pick>) {
    let mut keys: Vec<(u64, u32)> = ranked
        .iter()
        .enumerate()
        .map(|(k, p)| (best_first_key(p), k as u32))
        .collect();
    keys.sort_unstable_by_key(|&(key, _)| key);
    *ranked = keys.iter().map(|&(_, k)| ranked[k as usize]).collect();
}

/// A key whose ascending order is [`sort_best_first`]'s (higher score, then lower row).
fn best_first_key(p: &Pick) -> u64 {
    recd_model::pipeline::best_first_key(p.item, p.score)
}

/// Multiplies the score of a sponsored item and of a new arrival (created within `new`).
fn boost(p: &mut Pick, live: Live, new: &RangeInclusive<i64>, config: &RecommendConfig) {
    if live.sponsored {
        p.score *= config.sponsored_boost;
    }
    if live.created_ms != i64::MIN && new.contains(&live.created_ms) {
        p.score *= config.new_arrival_boost;
    }
}

/// The first `n` in order with at most `cap` per category; if the cap leaves the list short
/// (a catalog with few categories), the best of the rest fill it.
fn capped(model: &Model, ranked: &[Pick], n: usize, cap: usize) -> Vec<Pick> {
    let mut per_cat: ItemMap<usize> = ItemMap::default();
    let mut out = Vec::with_capacity(n);
    let mut skipped = Vec::new();
    for p in ranked {
        if out.len() == n {
            break;
        }
        let c = model.meta.category[p.item as usize];
        let k = per_cat.entry(c).or_insert(0);
        if c == NO_CATEGORY || *k < cap {
            *k += 1;
            out.push(*p);
        } else {
            skipped.push(*p);
        }
    }
    let missing = n.saturating_sub(out.len());
    out.extend(skipped.into_iter().take(missing));
    out
}

/// Greedy maximal marginal relevance over content vectors among the top of `ranked`,
/// respecting the category cap.
fn mmr(model: &Model, ranked: &[Pick], n: usize, cap: usize, lambda: f32) -> Vec<Pick> {
    const POOL: usize = 200;
    let pool: Vec<Pick> = ranked.iter().take(POOL).copied().collect();
    if pool.is_empty() {
        return Vec::new();
    }
    let (lo, hi) = pool.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| {
        (lo.min(p.score), hi.max(p.score))
    });
    let relevance = |s: f32| if hi > lo { (s - lo) / (hi - lo) } else { 1.0 };
    let mut max_sim = vec![0f32; pool.len()];
    let mut used = vec![false; pool.len()];
    let mut per_cat: ItemMap<usize> = ItemMap::default();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let best = (0..pool.len())
            .filter(|&k| !used[k])
            .filter(|&k| {
                let c = model.meta.category[pool[k].item as usize];
                c == NO_CATEGORY || per_cat.get(&c).copied().unwrap_or(0) < cap
            })
            .max_by(|&a, &b| {
                let v = |k: usize| lambda * relevance(pool[k].score) - (1.0 - lambda) * max_sim[k];
                v(a).total_cmp(&v(b)).then(b.cmp(&a))
            });
        let Some(k) = best else { break };
        used[k] = true;
        *per_cat
            .entry(model.meta.category[pool[k].item as usize])
            .or_insert(0) += 1;
        let chosen = model.content_of(pool[k].item);
        for (j, p) in pool.iter().enumerate() {
            if !used[j] {
                let s = recd_model::content::dot(chosen, model.content_of(p.item));
                max_sim[j] = max_sim[j].max(s);
            }
        }
        out.push(pool[k]);
    }
    if out.len() < n {
        // The cap left the pool short: fill in ranker order.
        let have: ItemSet = out.iter().map(|p| p.item).collect();
        let missing = n - out.len();
        out.extend(
            ranked
                .iter()
                .filter(|p| !have.contains(&p.item))
                .take(missing),
        );
    }
    out
}

/// SplitMix64: a small, good integer hash for deterministic choices from a seed.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Inserts `k` items from outside the usual categories (at most one per category, none of a
/// category the list already holds `cap` of) at positions chosen from the seed; without such
/// items the slots go to the next best within the cap, or, when the candidates cannot keep
/// it, to the next best.
fn explore(
    model: &Model,
    ranked: &[Pick],
    out: &mut Vec<Pick>,
    taken: &ItemSet,
    k: usize,
    cap: usize,
    req: &Request<'_>,
) {
    const POOL: usize = 100;
    let cat = |i: u32| model.meta.category[i as usize];
    // Without a history the list itself stands for the user's usual categories.
    let listed: ItemSet = out.iter().map(|p| cat(p.item)).collect();
    let usual = if req.usual_categories.is_empty() {
        &listed
    } else {
        req.usual_categories
    };
    let mut per_cat: ItemMap<usize> = ItemMap::default();
    for p in out.iter() {
        *per_cat.entry(cat(p.item)).or_default() += 1;
    }
    let full = |per_cat: &ItemMap<usize>, c: u32| {
        c != NO_CATEGORY && per_cat.get(&c).is_some_and(|n| *n >= cap)
    };
    let mut pool: Vec<Pick> = ranked
        .iter()
        .filter(|p| !taken.contains(&p.item))
        .filter(|p| {
            let c = cat(p.item);
            c != NO_CATEGORY && !usual.contains(&c) && !full(&per_cat, c)
        })
        .take(POOL)
        .copied()
        .collect();
    // Read only when the pool runs dry.
    let mut rest = ranked.iter().filter(|p| !taken.contains(&p.item)).copied();
    for slot in 0..k as u64 {
        let h = mix(req.seed ^ mix(slot));
        let pick = if pool.is_empty() {
            // Nothing outside the usual categories: the slot keeps plain ranked order, within
            // the cap where the candidates allow it (as the fill does: the cap never leaves
            // the list short).
            let free = |p: &Pick| !out.iter().any(|o| o.item == p.item);
            let within = ranked
                .iter()
                .filter(|p| !taken.contains(&p.item))
                .find(|p| free(p) && !full(&per_cat, cat(p.item)))
                .copied();
            match within.or_else(|| rest.find(|p| free(p))) {
                Some(p) => p,
                None => return,
            }
        } else {
            let mut p = pool.swap_remove((h % pool.len() as u64) as usize);
            p.source = "exploration";
            p.reason = Reason::Exploration(cat(p.item));
            pool.retain(|q| cat(q.item) != cat(p.item));
            p
        };
        *per_cat.entry(cat(pick.item)).or_default() += 1;
        // Never the first slots: exploration should not cost the head of the list.
        let lo = (out.len() / 4).min(out.len());
        let pos = lo + ((h >> 32) as usize) % (out.len() - lo + 1);
        out.insert(pos, pick);
    }
}

#[cfg(test)]
pub(crate) mod tests;
