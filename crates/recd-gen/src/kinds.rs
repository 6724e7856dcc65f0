//! Which kind of event a draw becomes, given how much the user likes the item.
//!
//! A multinomial logit over the eight item kinds: `p(k | z) ∝ exp(a_k + b_k z)`, where `z` is the
//! standardised affinity of user and item plus the user's propensity to engage. The slopes `b_k`
//! encode the story (deep funnel steps and likes rise with affinity, skips and dislikes fall);
//! the intercepts `a_k` are calibrated on a pilot sample so the overall mix hits the targets.
//! Searches are decided before this (a fixed share of draws) and never reach it.
//!
//! `z` is binned (0.02 wide on [-6, 6]) and each bin holds a cumulative table: a draw is then a
//! table lookup and a short scan instead of eight `exp` calls, and calibration works on a
//! histogram, not on every pilot draw.

use recd_types::EventKind;

use crate::rng::Rng;

/// The item event kinds, in `EventKind::ALL` order (searches are handled apart).
pub(crate) const ITEM_KINDS: [EventKind; 8] = [
    EventKind::View,
    EventKind::Click,
    EventKind::AddToCart,
    EventKind::Purchase,
    EventKind::Rating,
    EventKind::Like,
    EventKind::Dislike,
    EventKind::Skip,
];

/// Share of all events that are searches.
pub(crate) const SEARCH_SHARE: f64 = 0.01;

/// Target share of each item kind among all events (with searches, they sum to 1):
/// view 70%, click 12%, add_to_cart 4%, purchase 2%, rating 4%, like 2%, dislike 1%, skip 4%.
pub(crate) const TARGET_SHARES: [f64; 8] = [0.70, 0.12, 0.04, 0.02, 0.04, 0.02, 0.01, 0.04];

/// How each kind's log-odds move with `z`, relative to a view.
const SLOPES: [f64; 8] = [0.0, 0.8, 1.2, 1.6, 0.5, 1.4, -1.4, -1.0];

const Z_MIN: f64 = -6.0;
const Z_STEP: f64 = 0.02;
const N_BINS: usize = 601;

/// The calibrated kind model.
#[derive(Debug, Clone)]
pub(crate) struct KindModel {
    /// Mean and standard deviation of raw affinity over the pilot, for standardising.
    pub(crate) affinity_mean: f64,
    pub(crate) affinity_std: f64,
    /// Per bin of `z`, cumulative probabilities of the eight kinds.
    table: Vec<[f64; 8]>,
}

impl KindModel {
    /// Calibrates on pilot draws: `(raw affinity, user propensity)` pairs.
    pub(crate) fn calibrate(pilot: &[(f32, f32)]) -> Self {
        let n = pilot.len().max(1) as f64;
        let affinity_mean = pilot.iter().map(|p| p.0 as f64).sum::<f64>() / n;
        let var = pilot
            .iter()
            .map(|p| (p.0 as f64 - affinity_mean).powi(2))
            .sum::<f64>()
            / n;
        let affinity_std = if var > 0.0 { var.sqrt() } else { 1.0 };
        let mut histogram = vec![0.0f64; N_BINS];
        for &(a, propensity) in pilot {
            let z = (a as f64 - affinity_mean) / affinity_std + propensity as f64;
            histogram[bin(z)] += 1.0;
        }
        let item_total: f64 = TARGET_SHARES.iter().sum();
        let targets = TARGET_SHARES.map(|t| t / item_total);
        let mut intercepts = targets.map(f64::ln);
        if !pilot.is_empty() {
            // Iterative proportional fitting: each step scales every kind's odds by how far
            // its mean probability is from target. For a logit with free intercepts this
            // converges to the exact fit; 200 rounds on a 601-bin histogram cost nothing.
            for _ in 0..200 {
                let mut mean = [0.0f64; 8];
                for (b, &count) in histogram.iter().enumerate() {
                    if count > 0.0 {
                        let p = probabilities(&intercepts, bin_centre(b));
                        for k in 0..8 {
                            mean[k] += count * p[k];
                        }
                    }
                }
                for k in 0..8 {
                    intercepts[k] += (targets[k] / (mean[k] / n)).ln();
                }
                let base = intercepts[0];
                intercepts.iter_mut().for_each(|a| *a -= base);
            }
        }
        let table = (0..N_BINS)
            .map(|b| {
                let p = probabilities(&intercepts, bin_centre(b));
                let mut acc = 0.0;
                p.map(|x| {
                    acc += x;
                    acc
                })
            })
            .collect();
        Self {
            affinity_mean,
            affinity_std,
            table,
        }
    }

    /// Standardised affinity plus propensity: the `z` that drives the kind.
    pub(crate) fn z(&self, affinity: f32, propensity: f32) -> f64 {
        (affinity as f64 - self.affinity_mean) / self.affinity_std + propensity as f64
    }

    /// Draws a kind for `z`.
    pub(crate) fn sample(&self, z: f64, rng: &mut Rng) -> EventKind {
        let cdf = &self.table[bin(z)];
        let x = rng.f64() * cdf[7];
        let k = cdf.iter().position(|&c| x < c).unwrap_or(7);
        ITEM_KINDS[k]
    }
}

fn bin(z: f64) -> usize {
    let b = ((z - Z_MIN) / Z_STEP).round();
    if b.is_nan() {
        return N_BINS / 2;
    }
    b.clamp(0.0, (N_BINS - 1) as f64) as usize
}

fn bin_centre(b: usize) -> f64 {
    Z_MIN + b as f64 * Z_STEP
}

fn probabilities(intercepts: &[f64; 8], z: f64) -> [f64; 8] {
    let logits: [f64; 8] = std::array::from_fn(|k| intercepts[k] + SLOPES[k] * z);
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e = logits.map(|l| (l - max).exp());
    let total: f64 = e.iter().sum();
    e.map(|x| x / total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Purpose;

    #[test]
    fn calibration_hits_the_targets_and_slopes_point_the_right_way() {
        let mut rng = Rng::keyed(9, Purpose::Kinds, 0);
        let pilot: Vec<(f32, f32)> = (0..50_000)
            .map(|_| (rng.normal() as f32 * 0.7 + 0.3, 0.5 * rng.normal() as f32))
            .collect();
        let model = KindModel::calibrate(&pilot);
        let mut counts = [0u32; 8];
        let mut low = [0u32; 8];
        let mut high = [0u32; 8];
        for &(a, p) in &pilot {
            let z = model.z(a, p);
            let k = model.sample(z, &mut rng).index();
            counts[k] += 1;
            if z < -1.0 {
                low[k] += 1;
            } else if z > 1.0 {
                high[k] += 1;
            }
        }
        let total: f64 = TARGET_SHARES.iter().sum();
        for k in 0..8 {
            let share = counts[k] as f64 / pilot.len() as f64;
            let target = TARGET_SHARES[k] / total;
            assert!(
                (share - target).abs() < 0.01,
                "kind {k}: {share} vs {target}"
            );
        }
        let ratio = |k: usize| high[k] as f64 / low[k].max(1) as f64;
        assert!(ratio(EventKind::Purchase.index()) > ratio(EventKind::View.index()));
        assert!(ratio(EventKind::Skip.index()) < ratio(EventKind::View.index()));
        assert!(ratio(EventKind::Dislike.index()) < ratio(EventKind::View.index()));
    }
}
