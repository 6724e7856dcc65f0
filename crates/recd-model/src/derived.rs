//! Orders and indexes derived from a model's arrays, computed once on first use and kept with
//! the model, so that a request reads the first few entries of a sorted list instead of
//! scanning every item: at 100k items the per-request scans of popularity, trending,
//! creation time and content vectors cost more than everything else in the pipeline.
//!
//! A model's arrays must not change after the first use (they do not: training sets only the
//! ranker after building, and a served model is immutable).

use std::sync::OnceLock;

use crate::Model;
use crate::als::Factors;
use crate::ann::{AnnConfig, AnnIndex};
use crate::model::UNKNOWN_TIME;
use crate::sparse::SparseRows;

/// Item rows in the orders the generators read.
#[derive(Debug, Clone, Default)]
pub struct Orders {
    /// By popularity, best first (ties by item row).
    pub popular: Vec<u32>,
    /// Items with a trending score, by it, best first (ties by item row).
    pub trending: Vec<u32>,
    /// Items with a known creation time, newest first (ties by item row).
    pub newest: Vec<u32>,
}

/// What the ranker's features read of one item, kept together: the features of a request
/// visit ~735 items in random order, and reading popularity, trending, category, creation
/// time and price from five arrays was five cache misses per candidate (most of the feature
/// stage in a profile on the 1M × 100k model). Aligned to 32 bytes: one record never straddles
/// a cache line.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(32))]
pub struct ItemRecord {
    /// [`Model::popularity`].
    pub popularity: f32,
    /// [`Model::trending`].
    pub trending: f32,
    /// `ln(1 + price)`, 0 when the price is unknown (the `price_log` feature).
    pub price_log: f32,
    /// Category, or [`crate::model::NO_CATEGORY`].
    pub category: u32,
    /// Creation time, or [`UNKNOWN_TIME`].
    pub created_ms: i64,
}

/// The lazily computed parts of a [`Model`].
#[derive(Debug, Clone, Default)]
pub struct Derived {
    orders: OnceLock<Orders>,
    records: OnceLock<Vec<ItemRecord>>,
    pub(crate) als_index: OnceLock<AnnIndex>,
    pub(crate) content_index: OnceLock<AnnIndex>,
    content_sparse: OnceLock<Option<SparseRows>>,
}

fn by_score_desc(scores: &[f32], keep: impl Fn(f32) -> bool) -> Vec<u32> {
    let mut rows: Vec<u32> = (0..scores.len() as u32)
        .filter(|&i| keep(scores[i as usize]))
        .collect();
    rows.sort_unstable_by(|&a, &b| {
        scores[b as usize]
            .total_cmp(&scores[a as usize])
            .then(a.cmp(&b))
    });
    rows
}

impl Model {
    /// The generators' sorted lists (computed on the first call).
    pub fn orders(&self) -> &Orders {
        self.derived.orders.get_or_init(|| {
            let created = &self.meta.created_ms;
            let mut newest: Vec<u32> = (0..self.n_items() as u32)
                .filter(|&i| created[i as usize] != UNKNOWN_TIME)
                .collect();
            newest.sort_unstable_by(|&a, &b| {
                created[b as usize]
                    .cmp(&created[a as usize])
                    .then(a.cmp(&b))
            });
            Orders {
                popular: by_score_desc(&self.popularity, |s| !s.is_nan()),
                trending: by_score_desc(&self.trending, |s| s > 0.0),
                newest,
            }
        })
    }

    /// Computes every derived part now, and the ranker's weight layout: the server calls this
    /// when it loads a model, so no request pays for it. The indexes are loaded with the model, or built here for an
    /// artifact saved without them.
    pub fn prepare(&self) {
        self.ranker.prepare();
        if let Some(light) = &self.light_ranker {
            light.prepare();
        }
        self.orders();
        self.item_records();
        self.als_index();
        self.content_index();
        self.content_sparse();
        self.advise_hugepages();
    }

    /// Backs the arrays a request reads at random with huge pages ([`crate::hugepages`]).
    fn advise_hugepages(&self) {
        use crate::hugepages::advise;
        advise(self.item_factors.as_slice());
        advise(self.user_factors.as_slice());
        advise(&self.content);
        advise(self.item_records());
        if let Some(s) = self.content_sparse() {
            advise(s.entries());
        }
        for csr in [&self.neighbors, &self.neighbors_rev, &self.history] {
            csr.advise_hugepages();
        }
        self.als_index().advise_hugepages();
        self.content_index().advise_hugepages();
    }

    /// One [`ItemRecord`] per item row (computed on the first call).
    pub fn item_records(&self) -> &[ItemRecord] {
        self.derived.records.get_or_init(|| {
            let meta = &self.meta;
            (0..self.n_items())
                .map(|i| {
                    let price = meta.price[i];
                    ItemRecord {
                        popularity: self.popularity[i],
                        trending: self.trending[i],
                        price_log: if price.is_nan() {
                            0.0
                        } else {
                            (1.0 + price.max(0.0)).ln()
                        },
                        category: meta.category[i],
                        created_ms: meta.created_ms[i],
                    }
                })
                .collect()
        })
    }

    /// The index over item vectors the ALS generator searches when serving, calibrated on
    /// the user vectors. Loaded with the model; built on the first call for a model that has
    /// none yet (training, or an artifact from before indexes were saved).
    pub fn als_index(&self) -> &AnnIndex {
        self.derived.als_index.get_or_init(|| {
            AnnIndex::build(
                &self.item_factors,
                &self.user_factors,
                &AnnConfig::default(),
            )
        })
    }

    /// The content vectors as their non-zeros, when they are sparse ([`crate::sparse`]).
    pub(crate) fn content_sparse(&self) -> Option<&SparseRows> {
        self.derived
            .content_sparse
            .get_or_init(|| SparseRows::of(&self.content, self.encoder.dim))
            .as_ref()
    }

    /// The `k` items whose content vectors have the largest product with `q` among those `keep`
    /// accepts, best first: an exact scan, of the sparse rows when there are.
    pub(crate) fn content_exact(
        &self,
        q: &[f32],
        k: usize,
        keep: impl Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        let Some(s) = self.content_sparse() else {
            return crate::ann::exact_rows(&self.content, q, k, keep);
        };
        let mut scores = Vec::with_capacity(self.n_items());
        s.dots(0..self.n_items(), q, &mut scores);
        let mut keys = Vec::with_capacity(scores.len());
        crate::pipeline::push_keys(&mut keys, (0..).zip(scores));
        crate::pipeline::top_n_kept(keys, k, keep)
    }

    /// `q ·` the content vector of item row `i`, through the sparse rows when there are.
    pub fn content_dot(&self, q: &[f32], i: u32) -> f32 {
        match self.content_sparse() {
            Some(s) => s.dot(i as usize, q),
            None => crate::content::dot(q, self.content_of(i)),
        }
    }

    /// Asks the CPU for the content vector of item row `i` ahead of [`Model::content_dot`].
    pub(crate) fn prefetch_content(&self, i: u32) {
        match self.content_sparse() {
            Some(s) => crate::als::prefetch_row(s.row(i as usize)),
            None => crate::als::prefetch_row(self.content_of(i)),
        }
    }

    /// The content profiles of up to `n` users spread over the user rows (those with a
    /// positive history), as rows; `None` when no user has one.
    fn content_profiles(&self, n: usize) -> Option<Factors> {
        let step = (self.users.len() / n.max(1)).max(1);
        let mut rows = Vec::new();
        let mut count = 0;
        for row in (0..self.users.len()).step_by(step).take(n) {
            let state = crate::pipeline::UserState::from_model(self, row as u32);
            let signals = crate::pipeline::signals::Signals::compute(self, &state);
            if !signals.profile.is_empty() {
                rows.extend_from_slice(&signals.profile);
                count += 1;
            }
        }
        (count > 0)
            .then(|| Factors::from_vec(count, self.encoder.dim, rows).ok())
            .flatten()
    }

    /// The index over content vectors the content generator searches when serving. Loaded
    /// or built as [`Model::als_index`].
    pub fn content_index(&self) -> &AnnIndex {
        self.derived.content_index.get_or_init(|| {
            let d = self.encoder.dim;
            match Factors::from_vec(self.n_items(), d, self.content.clone()) {
                // Calibrated on the queries it gets, users' content profiles (recency-weighted
                // means of their history's vectors), when the model has users: calibrated on
                // item vectors, the 1M x 100k model's index met its recall target on items but
                // not on the profiles' true top 10 (`examples/pipeline_cost` prints it).
                // No head: the head holds the longest vectors, and content vectors are unit
                // vectors (or zero), so it would be 1% of the catalog picked by rounding,
                // scanned by every query for nothing (a large share of a query's rows).
                Ok(f) => {
                    let profiles = self.content_profiles(400);
                    let config = AnnConfig {
                        head_share: 0.0,
                        ..AnnConfig::default()
                    };
                    AnnIndex::build(&f, profiles.as_ref().unwrap_or(&f), &config)
                }
                Err(_) => AnnIndex::exact_only(),
            }
        })
    }
}
