//! Walker/Vose alias tables: O(1) draws from a fixed discrete distribution.
//!
//! Item choice happens about ten times per event (candidates), so a draw must not cost
//! O(items); a cumulative array with binary search would be O(log n) and also fine, but the
//! alias table is both faster and just as simple to build deterministically.

use crate::rng::Rng;

/// A discrete distribution over `0..n` that draws in constant time.
#[derive(Debug, Clone)]
pub(crate) struct AliasTable {
    /// Probability of keeping column `i` rather than jumping to its alias.
    keep: Vec<f64>,
    /// The other outcome stored in column `i`.
    alias: Vec<u32>,
}

impl AliasTable {
    /// Builds the table for `weights` (non-negative, not all zero, at most `u32::MAX` long).
    /// Returns `None` when there is nothing to draw from.
    pub(crate) fn new(weights: &[f64]) -> Option<Self> {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        if n == 0 || total.is_nan() || total <= 0.0 {
            return None;
        }
        let mut keep: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut alias: Vec<u32> = (0..n as u32).collect();
        // Indices are pushed in ascending order and popped from the end, so the build is a
        // pure function of the weights.
        let mut small: Vec<u32> = Vec::new();
        let mut large: Vec<u32> = Vec::new();
        for (i, p) in keep.iter().enumerate() {
            if *p < 1.0 {
                small.push(i as u32);
            } else {
                large.push(i as u32);
            }
        }
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            alias[s as usize] = l;
            keep[l as usize] -= 1.0 - keep[s as usize];
            if keep[l as usize] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers are 1 up to rounding error.
        for i in small.into_iter().chain(large) {
            keep[i as usize] = 1.0;
        }
        Some(Self { keep, alias })
    }

    /// Draws one outcome.
    pub(crate) fn sample(&self, rng: &mut Rng) -> u32 {
        let column = rng.below(self.keep.len() as u64) as usize;
        if rng.f64() < self.keep[column] {
            column as u32
        } else {
            self.alias[column]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Purpose;

    #[test]
    fn draws_follow_the_weights() {
        let weights = [5.0, 0.0, 1.0, 2.0, 2.0];
        let table = AliasTable::new(&weights).unwrap();
        let mut rng = Rng::keyed(1, Purpose::Item, 1);
        let n = 300_000;
        let mut counts = [0u32; 5];
        for _ in 0..n {
            counts[table.sample(&mut rng) as usize] += 1;
        }
        for (count, w) in counts.iter().zip(weights) {
            let expected = w / 10.0;
            assert!((*count as f64 / n as f64 - expected).abs() < 0.005);
        }
    }

    #[test]
    fn empty_or_zero_weights_give_no_table() {
        assert!(AliasTable::new(&[]).is_none());
        assert!(AliasTable::new(&[0.0, 0.0]).is_none());
    }
}
