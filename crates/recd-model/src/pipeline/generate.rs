//! Candidate generators and their merge.

use serde::{Deserialize, Serialize};

use super::UserState;
use super::signals::Signals;
use crate::Model;

/// A candidate generator. The discriminant is the bit in a candidate's source set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Item-to-item neighbours of the recent history ("because you watched X").
    ItemKnn = 1,
    /// ALS: nearest items to the user's vector.
    Als = 2,
    /// Content similarity to the recent history's profile.
    Content = 4,
    /// Most interacted-with items.
    Popular = 8,
    /// Most interacted-with items lately (time-decayed).
    Trending = 16,
    /// The newest items of the catalog (created at most `new_arrival_days` before the
    /// request), so a new item gets shown before anyone has interacted with it.
    NewArrivals = 32,
}

impl Source {
    /// Every generator, in bit order.
    pub const ALL: [Source; 6] = [
        Source::ItemKnn,
        Source::Als,
        Source::Content,
        Source::Popular,
        Source::Trending,
        Source::NewArrivals,
    ];

    /// The generator's name in reports and responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::ItemKnn => "item_knn",
            Source::Als => "als",
            Source::Content => "content",
            Source::Popular => "popular",
            Source::Trending => "trending",
            Source::NewArrivals => "new_arrivals",
        }
    }

    /// The bit of this source in a source set.
    pub fn bit(self) -> u8 {
        self as u8
    }
}

/// How many candidates each generator proposes. The defaults are the seed's:
/// 500 collaborative (ALS 250 + item-kNN 250), 300 content, 200 popular/trending/new arrivals.
/// On the ml-100k validation split they scored higher than the larger 300/500/300/100/100/50
/// set used before, with a quarter fewer candidates to rank (see BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CandidateConfig {
    /// From item-kNN.
    pub item_knn: usize,
    /// From ALS.
    pub als: usize,
    /// From content similarity.
    pub content: usize,
    /// From popularity.
    pub popular: usize,
    /// From trending.
    pub trending: usize,
    /// From new arrivals.
    pub new_arrivals: usize,
    /// How recent an item must be to count as a new arrival, in days.
    pub new_arrival_days: f64,
    /// A model with a light ranker (an MLP's logistic regression) ranks as a cascade: the
    /// light ranker scores every candidate and the ranker re-scores only its best `rerank`
    /// (0: the ranker scores every candidate). See [`super::ranked`]. With 100 or 200 of ~734
    /// candidates, the 1M × 100k set's hold-out scored exactly the MLP's own P/R/NDCG@10
    /// (as did 50 on a 100k × 20k set), for a fraction of the MLP's ranking time.
    pub rerank: usize,
}

impl Default for CandidateConfig {
    fn default() -> Self {
        Self {
            item_knn: 250,
            als: 250,
            content: 300,
            popular: 75,
            trending: 75,
            new_arrivals: 50,
            new_arrival_days: 14.0,
            rerank: 100,
        }
    }
}

impl CandidateConfig {
    /// The quotas of a degraded answer (the server is behind and ranks with the light
    /// ranker): these without the content generator. Its index search and its ~300 candidates'
    /// features were a large share of the candidate stage on the 1M × 100k model
    /// (`pipeline_cost`). The light ranker over this set scored close to the light ranker over
    /// the full set on that model's hold-out and on a 100k × 20k set's, well above the best
    /// precomputed list (BENCHMARKS.md). `recd train` reports it as the `pipeline_degraded` row.
    pub fn degraded(&self) -> Self {
        Self {
            content: 0,
            ..*self
        }
    }

    fn quota(&self, source: Source) -> usize {
        match source {
            Source::ItemKnn => self.item_knn,
            Source::Als => self.als,
            Source::Content => self.content,
            Source::Popular => self.popular,
            Source::Trending => self.trending,
            Source::NewArrivals => self.new_arrivals,
        }
    }
}

/// How the vector generators (ALS, content) find their nearest items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    /// Scan every item (offline evaluation: exact, and no index to build).
    Exact,
    /// Search the model's indexes ([`Model::als_index`], [`Model::content_index`]): serving.
    Indexed,
}

/// A merged candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Merged {
    /// Item row.
    pub item: u32,
    /// Source bit set.
    pub sources: u8,
    /// The ALS score when the ALS generator proposed the item (NaN otherwise): the feature
    /// code reuses it instead of reading the item's vector again.
    pub als: f32,
    /// The content score when the content generator proposed it (NaN otherwise).
    pub content: f32,
}

/// The top `n` of each generator alone, best first, with its own score, in [`Source::ALL`]
/// order (used to evaluate every generator on its own). The user's signals are computed once
/// for all of them.
pub fn generate_each(
    model: &Model,
    state: &UserState,
    config: &CandidateConfig,
    n: usize,
) -> Vec<(Source, Vec<(u32, f32)>)> {
    let signals = Signals::compute(model, state);
    Source::ALL
        .into_iter()
        .map(|source| {
            (
                source,
                top_of(model, state, &signals, config, source, n, Search::Exact),
            )
        })
        .collect()
}

fn top_of(
    model: &Model,
    state: &UserState,
    signals: &Signals,
    config: &CandidateConfig,
    source: Source,
    n: usize,
    search: Search,
) -> Vec<(u32, f32)> {
    if n == 0 {
        return Vec::new();
    }
    let available = &model.meta.available;
    let usable = |i: u32| available[i as usize] && !state.exclude.contains(&i);
    // Lists the model keeps sorted: read from the top, skipping unusable items, O(n) not
    // O(items) (see `crate::derived`).
    let first = |order: &[u32], score: &dyn Fn(u32) -> f32| -> Vec<(u32, f32)> {
        order
            .iter()
            .copied()
            .filter(|&i| usable(i))
            .take(n)
            .map(|i| (i, score(i)))
            .collect()
    };
    match source {
        Source::ItemKnn => top_n_kept(
            signals
                .knn_items()
                .iter()
                .map(|&i| (i, signals.knn_recent(i)))
                .filter(|&(_, s)| s > 0.0)
                .map(|(i, s)| best_first_key(i, s))
                .collect(),
            n,
            usable,
        ),
        Source::Als => match &state.vector {
            Some(v) if v.len() == model.item_factors.n_factors() => match search {
                // The index applies the filter inside its scan, so it returns n usable items.
                Search::Indexed => {
                    model
                        .als_index()
                        .search(model.item_factors.as_slice(), v, n, usable)
                }
                Search::Exact => crate::ann::exact(&model.item_factors, v, n, usable),
            },
            _ => Vec::new(),
        },
        Source::Content if signals.profile.is_empty() => Vec::new(),
        Source::Content => {
            let q = &signals.profile;
            // An index without lists (small catalogs) is an exact scan: the model's, which
            // reads the sparse rows like the IVF lists and the features do.
            let index = model.content_index();
            let found = match search {
                Search::Indexed if index.has_lists() => index.search(&model.content, q, n, usable),
                Search::Indexed | Search::Exact => model.content_exact(q, n, usable),
            };
            found.into_iter().filter(|&(_, s)| s > 0.0).collect()
        }
        Source::Popular => first(&model.orders().popular, &|i| model.popularity[i as usize]),
        Source::Trending => first(&model.orders().trending, &|i| model.trending[i as usize]),
        Source::NewArrivals => {
            let oldest = state.now_ms - (config.new_arrival_days * 86_400_000.0) as i64;
            let created = &model.meta.created_ms;
            let newest = &model.orders().newest;
            // Newest first: skip items created after the request's clock, stop at the window.
            let start = newest.partition_point(|&i| created[i as usize] > state.now_ms);
            newest[start..]
                .iter()
                .copied()
                .take_while(|&i| created[i as usize] >= oldest)
                .filter(|&i| usable(i))
                .take(n)
                .map(|i| (i, (created[i as usize] - oldest) as f32))
                .collect()
        }
    }
}

/// The `n` best `(item, score)` pairs, best first; ties broken by item row for determinism.
/// NaN scores are dropped.
pub fn top_n(scored: impl Iterator<Item = (u32, f32)>, n: usize) -> Vec<(u32, f32)> {
    if n == 0 {
        return Vec::new();
    }
    // Collect, select, sort the head: O(items + n log n). A bounded min-heap (push every item,
    // pop past n) measured as the single hottest function of a serving profile on ml-100k.
    let mut keys = Vec::with_capacity(scored.size_hint().0);
    push_keys(&mut keys, scored);
    select_best(&mut keys, n);
    keys.into_iter().map(from_key).collect()
}

/// A key whose ascending order is best first: higher score, then lower item row (`f32`'s
/// `total_cmp` order as an unsigned integer, inverted, above the row). Selections sort these
/// instead of `(item, score)` pairs with a comparator: one integer compare instead of a float
/// compare and a tie-break, measured as a large share of the index search's time on the
/// 1M × 100k model.
#[inline]
pub fn best_first_key(item: u32, score: f32) -> u64 {
    let bits = score.to_bits();
    // Negatives: every bit flipped; others: the sign bit set.
    let ascending = bits ^ ((((bits as i32) >> 31) as u32) >> 1) ^ 0x8000_0000;
    (u64::from(!ascending) << 32) | u64::from(item)
}

/// The `(item, score)` a [`best_first_key`] was made from.
#[inline]
pub fn from_key(key: u64) -> (u32, f32) {
    let ascending = !((key >> 32) as u32);
    let bits = if ascending & 0x8000_0000 != 0 {
        ascending ^ 0x8000_0000
    } else {
        !ascending
    };
    (key as u32, f32::from_bits(bits))
}

/// Appends the key of every pair with a score (NaN dropped) to `keys`.
#[inline]
pub fn push_keys(keys: &mut Vec<u64>, scored: impl Iterator<Item = (u32, f32)>) {
    keys.extend(
        scored
            .filter(|(_, s)| !s.is_nan())
            .map(|(i, s)| best_first_key(i, s)),
    );
}

/// Keeps the `n` smallest keys (the best, for [`best_first_key`]s), sorted.
pub(super) fn select_best<K: Ord>(keys: &mut Vec<K>, n: usize) {
    if keys.len() > n {
        if n == 0 {
            keys.clear();
            return;
        }
        keys.select_nth_unstable(n - 1);
        keys.truncate(n);
    }
    keys.sort_unstable();
}

/// The `n` best pairs among the [`best_first_key`]s `keys` whose item `keep` accepts, best
/// first, equal to `top_n` of the kept pairs. `keep` (availability, and the user's
/// exclusions: a hash lookup) runs on the best `n + n/2 + 16` keys only, widening while too
/// few pass, instead of on every key: the generators score thousands of items to keep
/// hundreds, and the filter on every scanned item was a visible share of the server's CPU in
/// a profile on the 1M × 100k model.
pub fn top_n_kept(mut keys: Vec<u64>, n: usize, keep: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
    if n == 0 || keys.is_empty() {
        return Vec::new();
    }
    let mut m = (n + n / 2 + 16).min(keys.len());
    loop {
        if m < keys.len() {
            keys.select_nth_unstable(m - 1);
        }
        // Sound: if the m best keys hold n kept ones, no kept key outside them can beat
        // those n.
        let mut kept: Vec<u64> = keys[..m]
            .iter()
            .copied()
            .filter(|&k| keep(k as u32))
            .collect();
        if kept.len() >= n || m == keys.len() {
            select_best(&mut kept, n);
            return kept.into_iter().map(from_key).collect();
        }
        m = (m * 2).min(keys.len());
    }
}

/// Every generator's candidates, merged; an item proposed by several keeps all their bits.
/// `search` says how the ALS and content generators find their items.
pub(super) fn merge(
    model: &Model,
    state: &UserState,
    signals: &Signals,
    config: &CandidateConfig,
    search: Search,
) -> Vec<Merged> {
    // Sized for every quota at once: growing it rehashed ~1,000 entries per request.
    let most = Source::ALL.iter().map(|&s| config.quota(s)).sum::<usize>();
    let mut slot: super::ItemMap<usize> =
        super::ItemMap::with_capacity_and_hasher(most, Default::default());
    let mut out: Vec<Merged> = Vec::with_capacity(most);
    for source in Source::ALL {
        for (item, score) in top_of(
            model,
            state,
            signals,
            config,
            source,
            config.quota(source),
            search,
        ) {
            let k = entry(&mut slot, &mut out, item);
            let m = &mut out[k];
            m.sources |= source.bit();
            match source {
                Source::Als => m.als = score,
                Source::Content => m.content = score,
                _ => {}
            }
        }
    }
    // Search matches are content matches of what the user asked for; the
    // features compute their content score like any candidate's without one.
    let available = &model.meta.available;
    for &(item, _) in &state.moment.searched {
        let usable = (item as usize) < available.len()
            && available[item as usize]
            && !state.exclude.contains(&item);
        if !usable {
            continue;
        }
        let k = entry(&mut slot, &mut out, item);
        out[k].sources |= Source::Content.bit();
    }
    out
}

/// The index of `item`'s merged candidate in `out`, added without sources if it is new.
fn entry(slot: &mut super::ItemMap<usize>, out: &mut Vec<Merged>, item: u32) -> usize {
    *slot.entry(item).or_insert_with(|| {
        out.push(Merged {
            item,
            sources: 0,
            als: f32::NAN,
            content: f32::NAN,
        });
        out.len() - 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference order: a comparator sort of the pairs without NaNs.
    fn sorted(scored: impl Iterator<Item = (u32, f32)>, n: usize) -> Vec<(u32, f32)> {
        let mut v: Vec<(u32, f32)> = scored.filter(|(_, s)| !s.is_nan()).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    #[test]
    fn top_n_is_sorted_and_deterministic() {
        let v = vec![(0, 1.0), (1, 3.0), (2, 3.0), (3, f32::NAN), (4, 2.0)];
        assert_eq!(top_n(v.into_iter(), 3), vec![(1, 3.0), (2, 3.0), (4, 2.0)]);
    }

    #[test]
    fn keys_round_trip_and_order_like_total_cmp_then_item() {
        let scores = [
            f32::NEG_INFINITY,
            -3.5,
            -f32::MIN_POSITIVE,
            -0.0,
            0.0,
            f32::MIN_POSITIVE,
            1.0,
            1.0e30,
            f32::INFINITY,
        ];
        let pairs: Vec<(u32, f32)> = scores
            .iter()
            .enumerate()
            .flat_map(|(k, &s)| [(k as u32, s), (100 - k as u32, s)])
            .collect();
        for &(i, s) in &pairs {
            let (j, t) = from_key(best_first_key(i, s));
            assert_eq!((j, t.to_bits()), (i, s.to_bits()), "round trip of {s}");
        }
        for a in &pairs {
            for b in &pairs {
                let want = b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
                let got = best_first_key(a.0, a.1).cmp(&best_first_key(b.0, b.1));
                assert_eq!(got, want, "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn top_n_kept_equals_filter_then_top_n() {
        // Scores with ties and NaNs; exclusions from none to nearly all, so the first window
        // is enough, too small (widening) or never enough (everything scanned).
        let scored: Vec<(u32, f32)> = (0..2000u32)
            .map(|i| {
                let s = ((i * 7919) % 211) as f32 / 7.0;
                (i, if i % 97 == 0 { f32::NAN } else { s })
            })
            .collect();
        let mut keys = Vec::new();
        push_keys(&mut keys, scored.iter().copied());
        for every in [1u32, 2, 3, 10, 1000, 3000] {
            let keep = |i: u32| (i * 31).is_multiple_of(every);
            for n in [0, 1, 10, 300, 2000, 5000] {
                let want = sorted(scored.iter().copied().filter(|&(i, _)| keep(i)), n);
                assert_eq!(
                    top_n(scored.iter().copied().filter(|&(i, _)| keep(i)), n),
                    want
                );
                assert_eq!(
                    top_n_kept(keys.clone(), n, keep),
                    want,
                    "every {every}, n {n}"
                );
            }
        }
    }
}
