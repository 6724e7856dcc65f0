//! Helpers shared by this crate's unit tests.

/// Per-user `(clicks, impressions)` of `n` users, 20 items each, with click rates spread
/// around `ctr` (users differ, as real ones do), deterministic from `seed`.
pub(crate) fn users(n: usize, ctr: f64, seed: u64) -> Vec<(f64, f64)> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let rate = ctr * (0.5 + next());
            ((0..20).filter(|_| next() < rate).count() as f64, 20.0)
        })
        .collect()
}
