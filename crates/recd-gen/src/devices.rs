//! The device effect: what a session is browsed on changes what it is browsed for, so that a
//! device × category feature has something real to find in generated logs.
//!
//! Each device class favours its own quarter of the categories: one shuffle of the categories,
//! keyed on the seed, is cut into consecutive slices, one per device, so the sets never overlap
//! and each device's lift over the others is its own. A session's device comes first (the
//! user's usual one, or now and then another); every category drawn in that session then comes
//! from the user's own category distribution reweighted by the device: a favoured category
//! weighs `1 + device_effect`, the others 1.
//!
//! The reweighted draw is an inverse-CDF lookup with the one uniform the unweighted draw takes
//! from the `Events` stream, rather than rejection sampling: every category draw consumes that
//! stream the same whatever the strength, so strength 0 gives exactly the times and items of a
//! world without the effect, and the draw is exact, with no retry bound to cap strong effects.
//! Device choices take their own `Device` stream, so the strength never moves a session to
//! another device: worlds that differ only in strength have the same device mix.
//!
//! Simulated shoppers follow the same weights ([`DeviceLift`], used by `shopper.rs`), so a
//! simulation's users browse on their devices as the generated history says they do.

use crate::GenConfig;
use crate::rng::{Purpose, Rng};
use crate::users::{Profile, sample_cdf};
use crate::words::DEVICES;

/// Share of sessions on a device other than the user's usual one.
const OTHER_DEVICE: f64 = 0.15;
/// Number of device classes.
const N_DEVICES: usize = DEVICES.len();

/// Which categories each device class favours, and by how much.
#[derive(Debug)]
pub(crate) struct DeviceEffect {
    /// Per device class (index into `DEVICES`), the categories it favours, sorted.
    favoured: Vec<Vec<u32>>,
    /// Weight of a favoured category in a session on that device (the others weigh 1).
    boost: f64,
}

impl DeviceEffect {
    /// The favoured categories of every device under `config`'s seed and strength.
    pub(crate) fn build(config: &GenConfig) -> Self {
        let n = config.n_categories as usize;
        // A quarter, rounded, and at least one so that tiny worlds still show the effect.
        let per_device = n.div_ceil(4).max(1);
        let mut order: Vec<u32> = (0..config.n_categories).collect();
        let mut rng = Rng::keyed(config.seed, Purpose::DeviceCategories, 0);
        rng.shuffle(&mut order);
        let favoured = (0..N_DEVICES)
            .map(|d| {
                let mut slice: Vec<u32> = order
                    .iter()
                    .skip(d * per_device)
                    .take(per_device)
                    .copied()
                    .collect();
                slice.sort_unstable();
                slice
            })
            .collect();
        Self {
            favoured,
            boost: 1.0 + config.device_effect,
        }
    }

    /// The categories `device` (index into `DEVICES`) favours, sorted.
    pub(crate) fn favoured(&self, device: usize) -> &[u32] {
        &self.favoured[device]
    }

    /// True when sessions on `device` draw categories exactly as the user's profile does.
    fn is_neutral(&self, device: usize) -> bool {
        self.boost <= 1.0 || self.favoured[device].is_empty()
    }

    /// The weight of `category` in a session on `device`.
    fn weight(&self, device: usize, category: u32) -> f64 {
        if self.favoured[device].binary_search(&category).is_ok() {
            self.boost
        } else {
            1.0
        }
    }

    /// How a session on `device` shifts `profile`'s attention between categories; `None`
    /// when it does not.
    pub(crate) fn lift(&self, profile: &Profile, device: usize) -> Option<DeviceLift> {
        if self.is_neutral(device) {
            return None;
        }
        let typical = probabilities(&profile.category_cdf)
            .enumerate()
            .map(|(c, p)| p * self.weight(device, c as u32))
            .sum();
        Some(DeviceLift { device, typical })
    }
}

/// One user's category lift in sessions on one device: in such a session the generator draws
/// category `c` with probability `p(c) · w(c) / W`, where `p` is the user's own distribution,
/// `w(c)` the device's weight of `c` and `W = Σ p(c) · w(c)` the typical weight of what the
/// user browses. `w(c) / W` is how much more (or less) `c` is browsed on the device than by
/// taste alone; it averages 1 over the user's own distribution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeviceLift {
    device: usize,
    /// `W`: at least 1, since every weight is.
    typical: f64,
}

impl DeviceLift {
    /// The lift of `category`, under the weights of `effect`.
    pub(crate) fn of(&self, effect: &DeviceEffect, category: u32) -> f64 {
        effect.weight(self.device, category) / self.typical
    }
}

/// The device of a new session: the user's usual one, or now and then any device by its share.
pub(crate) fn session_device(profile: &Profile, rng: &mut Rng) -> usize {
    if rng.chance(OTHER_DEVICE) {
        let weights: [f64; N_DEVICES] = std::array::from_fn(|d| DEVICES[d].1);
        rng.weighted(&weights)
    } else {
        profile.device
    }
}

/// One user's category draws by device: the profile's distribution reweighted by each device's
/// favoured categories, each built on first use (most users only ever use one or two devices).
pub(crate) struct SessionCategories<'a> {
    profile: &'a Profile,
    effect: &'a DeviceEffect,
    cdfs: [Option<Vec<f64>>; N_DEVICES],
}

impl<'a> SessionCategories<'a> {
    pub(crate) fn new(profile: &'a Profile, effect: &'a DeviceEffect) -> Self {
        Self {
            profile,
            effect,
            cdfs: Default::default(),
        }
    }

    /// A category for a draw in a session on `device`; takes exactly one uniform from `rng`.
    pub(crate) fn sample(&mut self, device: usize, rng: &mut Rng) -> u32 {
        let (profile, effect) = (self.profile, self.effect);
        if effect.is_neutral(device) {
            return profile.sample_category(rng);
        }
        let cdf = self.cdfs[device]
            .get_or_insert_with(|| reweighted(&profile.category_cdf, |c| effect.weight(device, c)));
        sample_cdf(cdf, rng.f64())
    }
}

/// The cumulative distribution `cdf` with each category's probability multiplied by its weight,
/// normalised again. Weights are at least 1, so the total is positive.
fn reweighted(cdf: &[f64], weight: impl Fn(u32) -> f64) -> Vec<f64> {
    let mut acc = 0.0;
    let mut res: Vec<f64> = probabilities(cdf)
        .enumerate()
        .map(|(c, p)| {
            acc += p * weight(c as u32);
            acc
        })
        .collect();
    res.iter_mut().for_each(|p| *p /= acc);
    res
}

/// The probability of each category under the cumulative distribution `cdf`.
fn probabilities(cdf: &[f64]) -> impl Iterator<Item = f64> + '_ {
    cdf.iter().scan(0.0, |previous, &p| {
        let q = (p - *previous).max(0.0);
        *previous = p;
        Some(q)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_device_favours_its_own_quarter() {
        for n in [1, 2, 3, 4, 30, 101] {
            let mut config = GenConfig::new(10, 200, 100, 3);
            config.n_categories = n;
            let effect = DeviceEffect::build(&config);
            let mut seen = std::collections::HashSet::new();
            for d in 0..N_DEVICES {
                let favoured = effect.favoured(d);
                assert!(favoured.len() <= n.div_ceil(4).max(1) as usize);
                assert!(favoured.iter().all(|&c| c < n && seen.insert(c)), "{n}");
            }
            assert!(!effect.favoured(0).is_empty());
        }
        let config = GenConfig::new(10, 200, 100, 3);
        let other = GenConfig::new(10, 200, 100, 4);
        assert_ne!(
            DeviceEffect::build(&config).favoured,
            DeviceEffect::build(&other).favoured,
            "the seed chooses the favoured categories"
        );
    }

    #[test]
    fn reweighting_multiplies_probabilities_and_keeps_a_cdf() {
        let cdf = [0.1, 0.5, 0.5, 1.0];
        let res = reweighted(&cdf, |c| if c == 0 { 3.0 } else { 1.0 });
        // 0.3, 0.4, 0, 0.5 over 1.2.
        let expected = [0.25, 7.0 / 12.0, 7.0 / 12.0, 1.0];
        for (a, b) in res.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{res:?}");
        }
        assert_eq!(sample_cdf(&res, 0.2), 0);
        assert_eq!(sample_cdf(&res, 0.6), 3, "an empty category is never drawn");
    }
}
