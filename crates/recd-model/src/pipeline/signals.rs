//! Per-request signals from the user's history, computed once and shared by the generators
//! and the features.
//!
//! The item-kNN score is recency-weighted: the newest history item weighs `1 + floor`, one
//! `half_life` positions older `0.5 + floor`, and so on. Offline this is the single largest
//! quality gain we measured on a time-split MovieLens (for item-kNN alone; see BENCHMARKS.md,
//! how the defaults were chosen): what a user did last predicts what they do next.
//!
//! The accumulators are dense (one slot per item, O(1) lookups for the features) but are not
//! allocated per request: they come from a per-thread pool and only the slots a request
//! touched are reset when [`Signals`] drops. Allocating and zeroing four item-sized arrays per
//! request cost more than the accumulation itself at 100k items.

use std::cell::RefCell;

use crate::Model;
use crate::als::prefetch;
use crate::content::normalize;
use crate::model::NO_CATEGORY;
use crate::pipeline::UserState;

/// One item's accumulators. Kept together (one cache line per update instead of four
/// arrays) because the updates hit items in random order.
#[derive(Clone, Copy)]
struct Slot {
    recent: f32,
    all: f32,
    best: f32,
    because: u32,
}

const EMPTY: Slot = Slot {
    recent: 0.0,
    all: 0.0,
    best: 0.0,
    because: u32::MAX,
};

/// Dense per-item accumulators, all [`EMPTY`] between requests.
#[derive(Default)]
struct Scratch {
    slots: Vec<Slot>,
    touched: Vec<u32>,
}

impl Scratch {
    fn sized(mut self, n: usize) -> Self {
        if self.slots.len() != n {
            self.slots = vec![EMPTY; n];
            self.touched.clear();
        }
        self
    }

    fn reset(&mut self) {
        for &i in &self.touched {
            self.slots[i as usize] = EMPTY;
        }
        self.touched.clear();
    }
}

/// How many neighbour updates ahead a slot is prefetched.
const PREFETCH_AHEAD: usize = 8;

thread_local! {
    static POOL: RefCell<Vec<Scratch>> = const { RefCell::new(Vec::new()) };
}

/// The user's signals for one request.
pub struct Signals {
    scratch: Scratch,
    /// Unit content profile of the recent history (empty when there is no history).
    pub profile: Vec<f32>,
    /// Share of the user's positive history in each category.
    pub category_share: Vec<f32>,
    /// Number of positive history items.
    pub n_positive: usize,
}

impl Drop for Signals {
    fn drop(&mut self) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.reset();
        POOL.with(|p| p.borrow_mut().push(scratch));
    }
}

impl Signals {
    /// Computes the signals of `state` against `model`.
    pub fn compute(model: &Model, state: &UserState) -> Self {
        let n = model.n_items();
        let p = model.params;
        let scratch = POOL
            .with(|pool| pool.borrow_mut().pop())
            .unwrap_or_default()
            .sized(n);
        let mut s = Signals {
            scratch,
            profile: Vec::new(),
            category_share: vec![0.0; model.meta.categories.len()],
            n_positive: 0,
        };
        let mut profile = vec![0f32; model.encoder.dim];
        let positives = state
            .history
            .iter()
            .rev()
            .filter(|(i, w)| *w > 0.0 && (*i as usize) < n);
        let sc = &mut s.scratch;
        for (pos, &(j, w)) in positives.enumerate() {
            s.n_positive += 1;
            let cat = model.meta.category[j as usize];
            if cat != NO_CATEGORY {
                s.category_share[cat as usize] += 1.0;
            }
            if pos >= p.history_len {
                continue;
            }
            let recency = (0.5f32).powf(pos as f32 / p.recency_half_life) + p.recency_floor;
            let weight = recency * w.min(1.0);
            let (items, sims) = model.neighbors_rev.row(j as usize);
            for (k, (&i, &sim)) in items.iter().zip(sims).enumerate() {
                // The slots are hit in random order (the load of a slot was most of this
                // function's time in a profile at 100k items): ask for one a few updates ahead.
                if let Some(&ahead) = items.get(k + PREFETCH_AHEAD) {
                    prefetch(&sc.slots[ahead as usize]);
                }
                let slot = &mut sc.slots[i as usize];
                if slot.all == 0.0 && slot.recent == 0.0 && slot.because == u32::MAX {
                    sc.touched.push(i);
                }
                let contribution = weight * sim;
                slot.recent += contribution;
                slot.all += sim;
                if contribution > slot.best {
                    slot.best = contribution;
                    slot.because = j;
                }
            }
            for (acc, v) in profile.iter_mut().zip(model.content_of(j)) {
                *acc += weight * v;
            }
        }
        if s.n_positive > 0 {
            let n_pos = s.n_positive as f32;
            s.category_share.iter_mut().for_each(|c| *c /= n_pos);
            normalize(&mut profile);
            s.profile = profile;
        }
        s
    }

    /// Asks the CPU for `item`'s accumulators ahead of a read (the feature loop's lookahead).
    pub(crate) fn prefetch(&self, item: u32) {
        if let Some(slot) = self.scratch.slots.get(item as usize) {
            prefetch(slot);
        }
    }

    /// Recency-weighted item-kNN score of `item`.
    pub fn knn_recent(&self, item: u32) -> f32 {
        self.scratch.slots[item as usize].recent
    }

    /// Unweighted item-kNN score of `item`.
    pub fn knn_all(&self, item: u32) -> f32 {
        self.scratch.slots[item as usize].all
    }

    /// The items with an item-kNN score (neighbours of the recent history), unordered.
    pub fn knn_items(&self) -> &[u32] {
        &self.scratch.touched
    }

    /// The history item behind `item`'s item-kNN score.
    pub fn because(&self, item: u32) -> Option<u32> {
        self.scratch
            .slots
            .get(item as usize)
            .map(|s| s.because)
            .filter(|&b| b != u32::MAX)
    }
}
