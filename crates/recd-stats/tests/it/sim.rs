//! Simulated experiments whose truth is known: users with heterogeneous click-through rates
//! and a heavy-tailed number of impressions, split 50/50 by a seeded coin.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use recd_stats::{Comparison, Sequential, ratio_delta, srm_p_value, welch};

/// Users per A/A experiment, in arrival order.
pub const N_USERS: usize = 2_000;
/// Interim looks per experiment, evenly spaced in arrival order; the last is the planned end.
pub const N_LOOKS: usize = 10;

/// One user's aggregates over the experiment.
#[derive(Debug, Clone, Copy)]
pub struct User {
    /// Assigned to the treatment arm.
    pub treatment: bool,
    /// Clicks on the user's impressions.
    pub clicks: f64,
    /// Impressions shown, at least 1.
    pub impressions: f64,
}

/// An experiment of `n_users` users from `seed`; the treatment multiplies each treated
/// user's true CTR by `lift` (1 for an A/A experiment).
pub fn experiment(seed: u64, n_users: usize, lift: f64) -> Vec<User> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n_users).map(|_| user(&mut rng, lift)).collect()
}

fn user(rng: &mut ChaCha8Rng, lift: f64) -> User {
    let treatment = rng.random_bool(0.5);
    // Beta(1, 19) by inversion (mean 5%, as spread out as it is high): most users click
    // rarely, a few often.
    let base_ctr = 1.0 - (1.0 - rng.random::<f64>()).powf(1.0 / 19.0);
    let ctr = if treatment {
        (base_ctr * lift).min(1.0)
    } else {
        base_ctr
    };
    // Casual users (mean 5 impressions, many with 1) and heavy users (mean 30, some past
    // 100): heavy users weigh far more in the ratio than in the per-user mean, which is what
    // makes the two analyses differ.
    let mean_impressions = if rng.random_bool(0.8) { 5.0 } else { 30.0 };
    let impressions = geometric(rng, mean_impressions);
    let clicks = (0..impressions)
        .filter(|_| rng.random::<f64>() < ctr)
        .count();
    User {
        treatment,
        clicks: clicks as f64,
        impressions: impressions as f64,
    }
}

/// A geometric draw on 1, 2, ... with the given mean, by inversion.
fn geometric(rng: &mut ChaCha8Rng, mean: f64) -> u32 {
    let u: f64 = rng.random();
    1 + ((1.0 - u).ln() / (1.0 - 1.0 / mean).ln()).floor() as u32
}

/// The two analyses of the CTR of `users`: Welch on per-user CTR, delta method on
/// clicks / impressions.
pub fn compare(users: &[User]) -> (Comparison, Comparison) {
    let arm = |treatment: bool| users.iter().filter(move |u| u.treatment == treatment);
    let ctr = |t| arm(t).map(|u| u.clicks / u.impressions).collect::<Vec<_>>();
    let pairs = |t| {
        arm(t)
            .map(|u| (u.clicks, u.impressions))
            .collect::<Vec<_>>()
    };
    let per_user = welch(&ctr(false), &ctr(true)).expect("welch");
    let ratio = ratio_delta(&pairs(false), &pairs(true)).expect("ratio_delta");
    (per_user, ratio)
}

/// The SRM p-value of the experiment's split against 50/50.
pub fn srm(users: &[User]) -> f64 {
    let n_treatment = users.iter().filter(|u| u.treatment).count() as u64;
    let counts = [users.len() as u64 - n_treatment, n_treatment];
    srm_p_value(&counts, &[50.0, 50.0]).expect("srm")
}

/// Mixing variances for the two analyses of an experiment planned to reach `n_users`, from an
/// A/A pilot of that size (a seed no experiment uses), as a data scientist would plan from
/// historical data.
pub fn planned_tau2(n_users: usize) -> (f64, f64) {
    let (per_user, ratio) = compare(&experiment(u64::MAX, n_users, 1.0));
    (
        recd_stats::default_tau2(per_user.variance()),
        recd_stats::default_tau2(ratio.variance()),
    )
}

/// What one experiment decided, under each way of reading it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Decisions {
    /// Welch on per-user CTR at the planned end rejected.
    pub welch_fixed: bool,
    /// The delta-method ratio test at the planned end rejected.
    pub ratio_fixed: bool,
    /// The mSPRT over Welch's comparisons rejected at some look.
    pub welch_sequential: bool,
    /// The mSPRT over the ratio comparisons rejected at some look.
    pub ratio_sequential: bool,
    /// Welch's fixed-horizon p-value was at or below ALPHA at some look (naive peeking).
    pub welch_peeking: bool,
    /// SRM p-value at or below 0.05 (the calibration level, not the alarm level).
    pub srm: bool,
}

/// Runs experiment `seed` of `n_users` with `lift`, looking `N_LOOKS` times; `tau2` from
/// [`planned_tau2`] for the same size.
pub fn run(seed: u64, n_users: usize, lift: f64, tau2: (f64, f64)) -> Decisions {
    let users = experiment(seed, n_users, lift);
    let mut welch_seq = Sequential::new(tau2.0).expect("tau2");
    let mut ratio_seq = Sequential::new(tau2.1).expect("tau2");
    let mut res = Decisions::default();
    for look in 1..=N_LOOKS {
        let (per_user, ratio) = compare(&users[..n_users * look / N_LOOKS]);
        welch_seq.observe(&per_user).expect("observe");
        ratio_seq.observe(&ratio).expect("observe");
        res.welch_peeking |= per_user.is_significant();
        if look == N_LOOKS {
            res.welch_fixed = per_user.is_significant();
            res.ratio_fixed = ratio.is_significant();
        }
    }
    res.welch_sequential = welch_seq.is_significant();
    res.ratio_sequential = ratio_seq.is_significant();
    res.srm = srm(&users) <= recd_stats::ALPHA;
    res
}

/// The share of `decisions` for which `pick` is true.
pub fn rate(decisions: &[Decisions], pick: impl Fn(&Decisions) -> bool) -> f64 {
    decisions.iter().filter(|d| pick(d)).count() as f64 / decisions.len() as f64
}
