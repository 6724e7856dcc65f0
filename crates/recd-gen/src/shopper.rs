//! A generated user in front of a ranked list, for simulations against a server trained on
//! generated data (`recd simulate`): which shown items the user looks at, and what they do
//! with each, by the taste and the calibrated kind model their generated events came from. A
//! model that learned those events should therefore earn more engagement from these users
//! than a list that ignores taste.
//!
//! Position bias: the item at 0-based rank `r` is examined with probability `1 / log2(r + 2)`,
//! the discount NDCG assumes, so a simulation rewards what the offline metric rewards. An
//! examined item gets one kind from the kind model at the user's `z` for it, with its rating
//! and dwell time, exactly as a generated draw does. The purchase funnel then adds its earlier
//! steps, because on a list buying means clicking through and putting the item in the cart
//! first: a purchase comes as click, add_to_cart, purchase, an add_to_cart as click,
//! add_to_cart. The other kinds (view, like, rating, skip, dislike) come alone, and an item
//! that is not examined gets nothing.

use recd_types::{EventKind, ItemId};

use crate::Generator;
use crate::events::details;
use crate::rng::{Purpose, Rng};
use crate::users::{Profile, dot};

/// One user of a generated world as a simulation drives them: their hidden taste and their
/// own random stream, so their choices depend only on the seed, the user and the lists shown.
#[derive(Debug, Clone)]
pub struct Shopper {
    idx: u32,
    vector: Vec<f32>,
    propensity: f32,
    rng: Rng,
}

impl Shopper {
    /// The user's index in the world (id `u<index>`).
    pub fn index(&self) -> u32 {
        self.idx
    }
}

/// One event a shopper makes on a shown item.
#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    /// 0-based position of the item in the list shown.
    pub rank: usize,
    /// The item's index in the world (id `i<index>`).
    pub item: u32,
    /// What the user did.
    pub kind: EventKind,
    /// The rating, for a rating.
    pub value: Option<f32>,
    /// How long the user stayed, for a view, click (the one the kind model drew) or skip.
    pub dwell_ms: Option<u32>,
}

/// Chance that the item at 0-based `rank` is looked at.
fn examine_probability(rank: usize) -> f64 {
    1.0 / (rank as f64 + 2.0).log2()
}

impl Generator {
    /// User `idx` (`idx < n_users`) as a simulated shopper.
    pub fn shopper(&self, idx: u32) -> Shopper {
        let profile = Profile::draw(&self.world, idx);
        Shopper {
            idx,
            vector: profile.vector,
            propensity: profile.propensity,
            rng: Rng::keyed(self.world.config.seed, Purpose::Shopper, idx as u64),
        }
    }

    /// `n` distinct users of the population (all of them when `n >= n_users`), in a random
    /// order fixed by the seed.
    pub fn sample_users(&self, n: u32) -> Vec<u32> {
        let mut rng = Rng::keyed(self.world.config.seed, Purpose::Sample, 0);
        let mut users: Vec<u32> = (0..self.world.config.n_users).collect();
        let n = (n as usize).min(users.len());
        // A partial Fisher-Yates shuffle: the first `n` places are a uniform sample.
        for i in 0..n {
            let j = i + rng.below((users.len() - i) as u64) as usize;
            users.swap(i, j);
        }
        users.truncate(n);
        users
    }

    /// What `shopper` does with the list `shown` (best first), in order: the events of each
    /// examined item, top to bottom (see the module comment). Ids that are not items of this
    /// world are looked at like any other but never acted on.
    pub fn react(&self, shopper: &mut Shopper, shown: &[ItemId]) -> Vec<Reaction> {
        let sqrt_dim = (self.world.dim as f32).sqrt();
        let mut res = Vec::new();
        for (rank, id) in shown.iter().enumerate() {
            if !shopper.rng.chance(examine_probability(rank)) {
                continue;
            }
            let Some(item) = Self::item_index(id).filter(|&i| i < self.world.config.n_items) else {
                continue;
            };
            let affinity = dot(&shopper.vector, self.world.item_vector(item)) / sqrt_dim;
            let z = self.kinds.z(affinity, shopper.propensity);
            let kind = self.kinds.sample(z, &mut shopper.rng);
            let (value, dwell_ms) = details(kind, z, &mut shopper.rng);
            let funnel: &[EventKind] = match kind {
                EventKind::Purchase => &[EventKind::Click, EventKind::AddToCart],
                EventKind::AddToCart => &[EventKind::Click],
                _ => &[],
            };
            let event = |kind| Reaction {
                rank,
                item,
                kind,
                value: None,
                dwell_ms: None,
            };
            res.extend(funnel.iter().map(|&k| event(k)));
            res.push(Reaction {
                value,
                dwell_ms,
                ..event(kind)
            });
        }
        res
    }
}
