//! A generated user in front of a ranked list, for simulations against a server trained on
//! generated data (`recd simulate`): which shown items the user looks at, and what they do
//! with each, by the taste, the session's device and the calibrated kind model their generated
//! events came from. A model that learned those events should therefore earn more engagement
//! from these users than a list that ignores taste.
//!
//! Position bias: the item at 0-based rank `r` is examined with probability `1 / log2(r + 2)`,
//! the discount NDCG assumes, so a simulation rewards what the offline metric rewards.
//!
//! Device: a shopper is one session (`recd simulate` keeps one session per user per run), on a
//! device chosen as the generator chooses a session's (`session_device`: mostly the user's
//! usual one) from the shopper's own device stream. In generated history a session on device
//! `d` lands on category `c` as often as by taste alone times the lift `w(d, c) / W`: the
//! device's weight of `c` over the typical weight of what the user browses (`DeviceLift`).
//! The shopper's attention follows the same lift. The device scales attention, not the
//! reaction, because that is what it changes in the history: which categories a session looks
//! at, while the kind of each event still follows affinity alone. As it scales how often a
//! session lands on a category, it scales the rate of looks: an item the position alone shows
//! with probability `p` is looked at with probability `1 - (1 - p)^lift`. That is `p · lift`
//! while `p` is small, never above 1 however strong the effect, keeps the order of positions
//! within a category (a plain product capped at 1 would flatten the top of the list for a
//! favoured category), and leaves the top item, always seen, always seen. The lift averages 1
//! over the user's own categories, so a list that follows the user's taste is looked at about
//! as much as without devices, and a model that also learned the device's lift (it reads the
//! request's `device`) gains by putting the device's favoured categories higher, as the
//! history does. Without the effect (strength 0) the lift is 1 and not applied, and the
//! device comes from its own stream, so reactions are exactly those of a shopper without
//! devices.
//!
//! Reactions: an examined item gets one kind from the kind model at the user's `z` for it,
//! with its rating and dwell time, exactly as a generated draw does. The purchase funnel then
//! adds its earlier steps, because on a list buying means clicking through and putting the
//! item in the cart first: a purchase comes as click, add_to_cart, purchase, an add_to_cart as
//! click, add_to_cart. The other kinds (view, like, rating, skip, dislike) come alone, and an
//! item that is not examined gets nothing.

use recd_types::{EventKind, ItemId};

use crate::Generator;
use crate::devices::{DeviceLift, session_device};
use crate::events::details;
use crate::rng::{Purpose, Rng};
use crate::users::{Profile, dot};
use crate::words::DEVICES;

/// One user of a generated world as a simulation drives them: their hidden taste, their
/// session's device and their own random streams, so their choices depend only on the seed,
/// the user and the lists shown.
#[derive(Debug, Clone)]
pub struct Shopper {
    idx: u32,
    vector: Vec<f32>,
    propensity: f32,
    /// Index into `DEVICES` of the session's device.
    device: usize,
    /// How that device shifts the user's attention between categories; `None` when it does not.
    lift: Option<DeviceLift>,
    rng: Rng,
}

impl Shopper {
    /// The user's index in the world (id `u<index>`).
    pub fn index(&self) -> u32 {
        self.idx
    }

    /// The session's device class, as generated events name it (`mobile`, `desktop`,
    /// `tablet`): what a request and the events of this session should carry.
    pub fn device(&self) -> &'static str {
        DEVICES[self.device].0
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

/// Chance that the item at 0-based `rank` is looked at, by its position alone.
fn position_probability(rank: usize) -> f64 {
    1.0 / (rank as f64 + 2.0).log2()
}

impl Generator {
    /// User `idx` (`idx < n_users`) as a simulated shopper.
    pub fn shopper(&self, idx: u32) -> Shopper {
        let profile = Profile::draw(&self.world, idx);
        let seed = self.world.config.seed;
        let mut device_rng = Rng::keyed(seed, Purpose::ShopperDevice, idx as u64);
        let device = session_device(&profile, &mut device_rng);
        Shopper {
            idx,
            lift: self.world.devices.lift(&profile, device),
            vector: profile.vector,
            propensity: profile.propensity,
            device,
            rng: Rng::keyed(seed, Purpose::Shopper, idx as u64),
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

    /// Chance that `shopper` looks at `item` (`None`: not an item of this world) shown at
    /// `rank`: the position's, with its rate of looks multiplied by the lift of the item's
    /// category on the session's device (see the module comment).
    fn examine_probability(&self, shopper: &Shopper, rank: usize, item: Option<u32>) -> f64 {
        let by_position = position_probability(rank);
        match (shopper.lift, item) {
            (Some(lift), Some(item)) => {
                let category = self.world.item_category[item as usize];
                1.0 - (1.0 - by_position).powf(lift.of(&self.world.devices, category))
            }
            _ => by_position,
        }
    }

    /// What `shopper` does with the list `shown` (best first), in order: the events of each
    /// examined item, top to bottom (see the module comment). Ids that are not items of this
    /// world are looked at like any other but never acted on.
    pub fn react(&self, shopper: &mut Shopper, shown: &[ItemId]) -> Vec<Reaction> {
        let sqrt_dim = (self.world.dim as f32).sqrt();
        let mut res = Vec::new();
        for (rank, id) in shown.iter().enumerate() {
            let item = Self::item_index(id).filter(|&i| i < self.world.config.n_items);
            if !shopper
                .rng
                .chance(self.examine_probability(shopper, rank, item))
            {
                continue;
            }
            let Some(item) = item else {
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
