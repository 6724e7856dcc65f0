//! What the tests refuse, and that they refuse without panicking.

use recd_stats::{Arm, Sequential, StatsError, ratio_delta, srm_p_value, welch};

#[test]
fn arms_with_fewer_than_two_users() {
    let short = |arm, n_users| StatsError::TooFewUsers {
        arm,
        n_users,
        min_users: 2,
    };
    assert_eq!(welch(&[], &[1.0, 2.0]), Err(short(Arm::Control, 0)));
    assert_eq!(welch(&[1.0, 2.0], &[3.0]), Err(short(Arm::Treatment, 1)));
    assert_eq!(
        ratio_delta(&[(1.0, 2.0)], &[(0.0, 1.0), (1.0, 1.0)]),
        Err(short(Arm::Control, 1))
    );
    assert_eq!(
        ratio_delta(&[(0.0, 1.0), (1.0, 1.0)], &[]),
        Err(short(Arm::Treatment, 0))
    );
}

#[test]
fn metrics_that_do_not_vary() {
    // No clicks anywhere: per-user CTR and the ratio are both constant.
    assert_eq!(welch(&[0.0; 5], &[0.0; 3]), Err(StatsError::ZeroVariance));
    let no_clicks = [(0.0, 3.0), (0.0, 1.0), (0.0, 8.0)];
    assert_eq!(
        ratio_delta(&no_clicks, &no_clicks),
        Err(StatsError::ZeroVariance)
    );
    // Constant but different arms: still no spread to test against.
    assert_eq!(welch(&[0.0; 5], &[1.0; 3]), Err(StatsError::ZeroVariance));
    // No clicks in control only is a valid comparison.
    let some = [(1.0, 3.0), (0.0, 1.0), (2.0, 8.0)];
    assert!(ratio_delta(&no_clicks, &some).unwrap().diff > 0.0);
}

#[test]
fn ratio_without_denominator() {
    let none = [(0.0, 0.0), (0.0, 0.0)];
    let some = [(1.0, 3.0), (0.0, 1.0)];
    assert_eq!(
        ratio_delta(&some, &none),
        Err(StatsError::ZeroDenominator {
            arm: Arm::Treatment
        })
    );
}

#[test]
fn non_finite_values() {
    let err = welch(&[1.0, f64::NAN], &[1.0, 2.0]).unwrap_err();
    assert!(matches!(err, StatsError::NonFinite { .. }), "{err}");
    let err = ratio_delta(
        &[(1.0, 2.0), (0.0, 1.0)],
        &[(f64::INFINITY, 1.0), (0.0, 1.0)],
    );
    assert!(matches!(err, Err(StatsError::NonFinite { .. })));
    // Finite values whose squares overflow.
    let err = welch(&[1e200, -1e200], &[0.0, 1.0]).unwrap_err();
    assert!(matches!(err, StatsError::NonFinite { .. }), "{err}");
}

#[test]
fn srm_refusals_and_degenerate_splits() {
    let invalid = |r: Result<f64, StatsError>| matches!(r, Err(StatsError::InvalidShares { .. }));
    assert!(invalid(srm_p_value(&[10, 10], &[0.5])));
    assert!(invalid(srm_p_value(&[10], &[1.0])));
    assert!(invalid(srm_p_value(&[], &[])));
    assert!(invalid(srm_p_value(&[10, 10], &[-0.5, 1.5])));
    assert!(invalid(srm_p_value(&[10, 10], &[0.0, 0.0])));
    assert!(invalid(srm_p_value(&[10, 10], &[f64::NAN, 1.0])));
    assert_eq!(
        srm_p_value(&[0, 0], &[0.5, 0.5]),
        Err(StatsError::NoAssignments)
    );
    // Users in a variant configured at 0%: certainly a mismatch.
    assert_eq!(srm_p_value(&[1, 500, 500], &[0.0, 0.5, 0.5]), Ok(0.0));
    // Everything expected in one variant and found there.
    assert_eq!(srm_p_value(&[7, 0], &[100.0, 0.0]), Ok(1.0));
}

#[test]
fn sequential_refusals_leave_the_state_alone() {
    for tau2 in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(Sequential::new(tau2).is_err(), "tau2 {tau2}");
    }
    assert!(Sequential::resume(1.0, 0.0).is_err());
    assert!(Sequential::resume(1.0, 1.5).is_err());
    let mut seq = Sequential::resume(1.0, 0.2).unwrap();
    assert!(seq.update(0.5, 0.0).is_err());
    assert!(seq.update(f64::NAN, 1.0).is_err());
    assert_eq!(seq.p_value(), 0.2);
    // A look with no evidence keeps the stored minimum.
    assert_eq!(seq.update(0.0, 1.0), Ok(0.2));
}

#[test]
fn errors_say_whether_to_wait_or_to_fix() {
    assert!(StatsError::ZeroVariance.is_insufficient_data());
    assert!(StatsError::NoAssignments.is_insufficient_data());
    let bad = srm_p_value(&[1, 2], &[-1.0, 2.0]).unwrap_err();
    assert!(!bad.is_insufficient_data());
    let early = welch(&[1.0], &[2.0, 3.0]).unwrap_err();
    assert!(early.is_insufficient_data());
    assert_eq!(
        early.to_string(),
        "control arm has 1 users; at least 2 are needed"
    );
}
