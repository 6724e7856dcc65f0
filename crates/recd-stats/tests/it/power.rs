//! Power: the same experiments with a real lift must be found, so that the calibration's
//! low rejection rates are not those of tests that never reject.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use recd_stats::{SRM_ALPHA, srm_p_value};

use crate::sim::{self, Decisions};

const N_EXPERIMENTS: u64 = 300;
/// The treatment multiplies each user's true CTR by this.
const LIFT: f64 = 1.3;

/// Power of the four readings at `n_users`: (welch, ratio, sequential welch, sequential ratio).
fn power(n_users: usize) -> [f64; 4] {
    let tau2 = sim::planned_tau2(n_users);
    // Seeds after the A/A run's, so the two tests never share an experiment.
    let decisions: Vec<Decisions> = (0..N_EXPERIMENTS)
        .map(|i| sim::run(1_000_000 + i, n_users, LIFT, tau2))
        .collect();
    let res = [
        sim::rate(&decisions, |d| d.welch_fixed),
        sim::rate(&decisions, |d| d.ratio_fixed),
        sim::rate(&decisions, |d| d.welch_sequential),
        sim::rate(&decisions, |d| d.ratio_sequential),
    ];
    eprintln!(
        "power at lift {LIFT}, {n_users} users, {N_EXPERIMENTS} experiments: welch {:.3}, \
         ratio {:.3}, sequential welch {:.3} ratio {:.3}",
        res[0], res[1], res[2], res[3]
    );
    res
}

#[test]
fn a_thirty_percent_lift_is_found() {
    // At the A/A size a 30% lift is near the smallest effect these tests can see: the
    // fixed-horizon tests find it more often than not, the sequential ones (paying for
    // unlimited peeking) less often.
    let [welch, ratio, welch_seq, ratio_seq] = power(sim::N_USERS);
    assert!(
        welch > 0.5 && ratio > 0.5,
        "fixed-horizon power {welch} {ratio}"
    );
    assert!(
        welch_seq > 0.2 && ratio_seq > 0.2,
        "sequential power {welch_seq} {ratio_seq}"
    );
    // With four times the users (half the standard error) every reading must find it.
    let [welch, ratio, welch_seq, ratio_seq] = power(4 * sim::N_USERS);
    assert!(
        welch > 0.9 && ratio > 0.9,
        "fixed-horizon power {welch} {ratio}"
    );
    assert!(
        welch_seq > 0.7 && ratio_seq > 0.7,
        "sequential power {welch_seq} {ratio_seq}"
    );
}

#[test]
fn srm_flags_a_52_48_split_and_accepts_a_fair_one() {
    let skewed = srm_p_value(&[52_000, 48_000], &[50.0, 50.0]).unwrap();
    assert!(skewed < SRM_ALPHA, "52/48 of 100k: p {skewed:e}");
    // A fair split of 100k users by a seeded coin.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let n_treatment = (0..100_000).filter(|_| rng.random_bool(0.5)).count() as u64;
    let fair = srm_p_value(&[100_000 - n_treatment, n_treatment], &[50.0, 50.0]).unwrap();
    assert!(fair > SRM_ALPHA, "fair split {n_treatment}/100k: p {fair}");
}
