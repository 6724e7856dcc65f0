//! Known answers: every expected number below was computed with scipy 1.17 (the call is
//! named above each case), not with this crate.

use recd_stats::{Comparison, Sequential, ratio_delta, srm_p_value, welch};

/// Relative tolerance: the distributions agree with scipy to far better than this, while a
/// wrong degree of freedom, tail or variance formula is off by far more.
const RTOL: f64 = 1e-6;

fn close(what: &str, actual: f64, expected: f64) {
    let err = (actual - expected).abs() / expected.abs().max(f64::MIN_POSITIVE);
    assert!(err <= RTOL, "{what}: got {actual:e}, expected {expected:e}");
}

/// Expected `(diff, p_value, ci_low, ci_high)`.
fn check(actual: Comparison, expected: [f64; 4]) {
    close("diff", actual.diff, expected[0]);
    close("p_value", actual.p_value, expected[1]);
    close("ci_low", actual.ci_low, expected[2]);
    close("ci_high", actual.ci_high, expected[3]);
}

#[test]
fn welch_matches_scipy() {
    // r = stats.ttest_ind(t, c, equal_var=False); r.pvalue, r.confidence_interval(0.95)
    // Small unequal arms (df 12.15).
    let c = [0.0, 0.1, 0.25, 0.0, 0.5, 0.2, 0.0, 0.05];
    let t = [0.3, 0.1, 0.4, 0.0, 0.6, 0.25, 0.2];
    let expected = [
        0.12678571428571428,
        0.21467135629212233,
        -0.08391513278390475,
        0.3374865613553333,
    ];
    check(welch(&c, &t).unwrap(), expected);

    // Very unequal variances (df 10.44, far from the pooled 12).
    let c = [1.0, 2.0, 3.0, 4.0, 5.0];
    let t = [2.5, 9.1, 0.3, 12.0, 7.7, 4.4, 15.2, 1.1, 6.6];
    let expected = [
        3.5444444444444443,
        0.07866714222648874,
        -0.48471076507734256,
        7.573599653966231,
    ];
    check(welch(&c, &t).unwrap(), expected);

    // A far tail: p ~ 6e-15 must keep its digits, not be 1 - cdf rounded to 0.
    let c: Vec<f64> = (0..30).map(|i| f64::from(i % 7)).collect();
    let t: Vec<f64> = (0..25).map(|i| f64::from(i % 5) + 6.0).collect();
    let expected = [
        5.166666666666666,
        6.140540398909242e-15,
        4.212395582641098,
        6.120937750692234,
    ];
    check(welch(&c, &t).unwrap(), expected);

    // One arm without variance (all zero clicks): df falls to the other arm's n - 1 = 4.
    let c = [0.0; 4];
    let t = [0.0, 1.0, 0.0, 0.0, 1.0];
    let expected = [
        0.4,
        0.17780780835622137,
        -0.28008738065825567,
        1.0800873806582558,
    ];
    check(welch(&c, &t).unwrap(), expected);
}

#[test]
fn ratio_delta_matches_a_numpy_implementation() {
    // scipy has no delta-method test; per arm, with x clicks and y impressions per user:
    // R = x.sum()/y.sum(); C = np.cov(x, y, ddof=1);
    // var = (C[0,0] - 2*R*C[0,1] + R*R*C[1,1]) / (n * y.mean()**2);
    // p = 2*stats.norm.sf(|diff|/se); ci = diff ± stats.norm.ppf(0.975)*se.
    let c = [
        (0., 3.),
        (1., 5.),
        (0., 1.),
        (2., 10.),
        (1., 2.),
        (0., 7.),
        (3., 20.),
    ];
    let t = [(1., 3.), (0., 4.), (2., 6.), (1., 1.), (0., 2.), (4., 15.)];
    let res = ratio_delta(&c, &t).unwrap();
    close("control", res.control, 0.14583333333333334);
    close("treatment", res.treatment, 0.25806451612903225);
    close("std_error", res.std_error, 0.06138705521442735);
    let expected = [
        0.11223118279569891,
        0.06751130918045213,
        -0.008085234541550412,
        0.23254760013294823,
    ];
    check(res, expected);

    // Heavy users (50 impressions) beside one-impression users.
    let c = [
        (0., 1.),
        (1., 1.),
        (0., 2.),
        (5., 50.),
        (1., 9.),
        (0., 1.),
        (2., 8.),
        (0., 3.),
    ];
    let t = [
        (3., 4.),
        (0., 1.),
        (9., 50.),
        (1., 2.),
        (0., 6.),
        (1., 1.),
        (0., 2.),
    ];
    let expected = [
        0.09212121212121213,
        0.10907689145938133,
        -0.02055927157853303,
        0.2048016958209573,
    ];
    check(ratio_delta(&c, &t).unwrap(), expected);
}

#[test]
fn ratio_with_unit_denominators_is_the_difference_of_means() {
    // With every denominator 1 the delta-method variance reduces to s²/n per arm, Welch's.
    let c = [0.2, 0.0, 0.7, 0.1, 0.4];
    let t = [0.9, 0.3, 0.5, 0.8];
    let pairs = |v: &[f64]| v.iter().map(|&x| (x, 1.0)).collect::<Vec<_>>();
    let ratio = ratio_delta(&pairs(&c), &pairs(&t)).unwrap();
    let means = welch(&c, &t).unwrap();
    close("diff", ratio.diff, means.diff);
    close("std_error", ratio.std_error, means.std_error);
}

#[test]
fn srm_matches_scipy() {
    // stats.chisquare(obs, f_exp) with f_exp the shares scaled to sum(obs) (None: equal).
    let cases: [(&[u64], &[f64], f64); 5] = [
        (&[5230, 4770], &[50.0, 50.0], 4.224909405005696e-06),
        (
            &[10123, 9876, 20001],
            &[0.25, 0.25, 0.5],
            0.2175612193026369,
        ),
        (&[52000, 48000], &[0.5, 0.5], 1.1314837902433038e-36),
        (&[50100, 49900], &[1.0, 1.0], 0.5270892568655381),
        // A variant at share 0 without users drops out: stats.chisquare([10, 12]).
        (&[0, 10, 12], &[0.0, 50.0, 50.0], 0.6698153575994166),
    ];
    for (counts, shares, expected) in cases {
        close("srm p", srm_p_value(counts, shares).unwrap(), expected);
    }
}

#[test]
fn sequential_matches_the_papers_formula() {
    // p = min(p, 1/Λ), Λ = np.sqrt(v/(v+tau2)) * np.exp(tau2*d*d/(2*v*(v+tau2))), tau2 = 1e-3.
    // The first look has Λ < 1 (p stays 1); the third is weaker than the second (p stays).
    let looks = [
        (0.01, 4e-4, 1.0),
        (0.03, 2e-4, 0.3756414182915067),
        (0.005, 1e-4, 0.3756414182915067),
        (0.05, 5e-5, 2.0929788520465808e-10),
    ];
    let mut seq = Sequential::new(1e-3).unwrap();
    for (diff, variance, expected) in looks {
        close("running p", seq.update(diff, variance).unwrap(), expected);
    }
    assert!(seq.is_significant());
}
