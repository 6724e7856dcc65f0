//! The watch over experiments against synthetic per-user numbers.

use super::*;
use crate::test_support::users;

fn arm() -> Arm {
    Arm {
        impressions: 1_000,
        ctr: Some(0.05),
        latency_p99_ms: Some(5.0),
        fallback_share: Some(0.0),
    }
}

fn treatment(n: usize, ctr: f64, seed: u64) -> Treatment {
    let cmp = recd_stats::ratio_delta(&users(n, 0.05, seed), &users(n, ctr, seed + 7)).unwrap();
    Treatment {
        name: "b".into(),
        arm: arm(),
        comparisons: vec![("ctr", cmp)],
    }
}

#[test]
fn a_much_worse_treatment_is_stopped_and_an_equal_one_runs_on() {
    let config = GuardConfig::default();
    let mut worse = Watch::default();
    let stopped =
        (1..=20).find_map(|k| worse.look(&config, &arm(), &[treatment(100 * k, 0.02, k as u64)]));
    let (variant, why) = stopped.expect("stopped");
    assert_eq!(variant, "b");
    assert!(why.contains("CTR worse"), "{why}");
    assert!(worse.p_value("b", "ctr").unwrap() <= 0.05);
    let mut equal = Watch::default();
    for k in 1..=20 {
        let breach = equal.look(
            &config,
            &arm(),
            &[treatment(100 * k, 0.05, 1_000 + k as u64)],
        );
        assert_eq!(breach, None, "look {k}");
    }
    assert!(equal.p_value("b", "ctr").is_some());
    assert_eq!(equal.p_value("b", "conversion_rate"), None);
}

#[test]
fn guardrails_name_what_was_breached() {
    let config = GuardConfig::default();
    let mut slow = treatment(10, 0.05, 1);
    slow.arm.latency_p99_ms = Some(500.0);
    let (_, why) = Watch::default().look(&config, &arm(), &[slow]).unwrap();
    assert!(why.contains("latency p99"), "{why}");
    let mut falls = treatment(10, 0.05, 1);
    falls.arm.fallback_share = Some(0.5);
    let (_, why) = Watch::default().look(&config, &arm(), &[falls]).unwrap();
    assert!(why.contains("fallback"), "{why}");
    // Too few users for the sequential test: it has not looked.
    let mut few = Watch::default();
    assert_eq!(few.look(&config, &arm(), &[treatment(10, 0.0, 3)]), None);
    assert_eq!(few.p_value("b", "ctr"), None);
}

#[test]
fn the_config_names_its_bad_key() {
    let mut c = GuardConfig {
        alpha: 1.5,
        ..GuardConfig::default()
    };
    assert!(c.check().unwrap_err().contains("serve.guardrails.alpha"));
    c.alpha = 0.05;
    c.planned_users = 0;
    assert!(c.check().unwrap_err().contains("planned_users"));
    GuardConfig::default().check().unwrap();
}

#[test]
fn without_stop_the_watch_only_reports() {
    let config = GuardConfig {
        stop: false,
        ..GuardConfig::default()
    };
    let mut w = Watch::default();
    for k in 1..=20 {
        assert_eq!(
            w.look(&config, &arm(), &[treatment(100 * k, 0.02, k as u64)]),
            None
        );
    }
    assert!(w.p_value("b", "ctr").unwrap() <= 0.05);
}
