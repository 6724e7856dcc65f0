//! The rollout policy against synthetic per-user numbers: an equal candidate climbs every step
//! and is promoted, a worse one is rolled back before promotion, guardrails act at once.

use super::*;
use crate::test_support::users;

fn config() -> RolloutConfig {
    RolloutConfig {
        min_impressions: 2_000,
        max_impressions: 20_000,
        max_ctr_drop: 0.2,
        ..RolloutConfig::default()
    }
}

fn look(current: &[(f64, f64)], candidate: &[(f64, f64)]) -> Look {
    let arm = |u: &[(f64, f64)]| {
        let (c, i) = u.iter().fold((0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1));
        Arm {
            impressions: i as u64,
            ctr: Some(c / i),
            latency_p99_ms: Some(5.0),
            fallback_share: Some(0.0),
        }
    };
    Look {
        current: arm(current),
        candidate: arm(candidate),
        ctr: recd_stats::ratio_delta(current, candidate).ok(),
    }
}

/// Looks at growing samples until a decision other than Hold (or `looks` run out).
fn run(active: &mut Active, ctr_current: f64, ctr_candidate: f64, seed: u64) -> Vec<Decision> {
    let config = config();
    let policy = Rollout { config: &config };
    let mut out = Vec::new();
    let (mut n_cur, mut n_cand) = (0, 0);
    for k in 0..400 {
        let share = policy.share(active);
        n_cand += (share * 0.2).max(1.0) as usize;
        n_cur += ((100.0 - share) * 0.2).max(1.0) as usize;
        let l = look(
            &users(n_cur, ctr_current, seed),
            &users(n_cand, ctr_candidate, seed + 1_000 + k),
        );
        match policy.look(active, &l) {
            Decision::Hold(_) => continue,
            d @ Decision::Ramp(_) => out.push(d),
            d => {
                out.push(d);
                break;
            }
        }
    }
    out
}

#[test]
fn an_equal_candidate_climbs_every_step_and_is_promoted() {
    let mut active = Active::new("v2", "v1");
    let decisions = run(&mut active, 0.05, 0.05, 7);
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    assert_eq!(decisions[0], Decision::Ramp(50.0));
    assert!(
        matches!(decisions[1], Decision::Promote(_)),
        "{decisions:?}"
    );
    assert!(active.test.tau2.is_some_and(|t| t > 0.0));
}

#[test]
fn a_much_worse_candidate_is_rolled_back_before_promotion() {
    for seed in 0..20 {
        let mut active = Active::new("v2", "v1");
        let decisions = run(&mut active, 0.06, 0.02, seed);
        let last = decisions.last().unwrap();
        assert!(
            matches!(last, Decision::RollBack(why) if why.contains("worse")),
            "seed {seed}: {decisions:?}"
        );
        assert!(active.test.p_value <= recd_stats::ALPHA);
    }
}

#[test]
fn a_slightly_worse_candidate_is_never_promoted() {
    // 30% worse: beyond the 20% margin; too close for the sequential test to call quickly,
    // so it is the non-inferiority check that keeps it from being promoted.
    for seed in 0..10 {
        let mut active = Active::new("v2", "v1");
        let decisions = run(&mut active, 0.05, 0.035, seed);
        assert!(
            !decisions.iter().any(|d| matches!(d, Decision::Promote(_))),
            "seed {seed}: {decisions:?}"
        );
        assert!(
            matches!(decisions.last(), Some(Decision::RollBack(_))),
            "seed {seed}: {decisions:?}"
        );
    }
}

#[test]
fn guardrails_roll_back_at_once() {
    let config = config();
    let policy = Rollout { config: &config };
    let base = look(&users(100, 0.05, 1), &users(100, 0.05, 2));
    let mut slow = base;
    slow.candidate.latency_p99_ms = Some(250.0);
    let d = policy.look(&mut Active::new("v2", "v1"), &slow);
    assert!(
        matches!(&d, Decision::RollBack(why) if why.contains("latency")),
        "{d:?}"
    );
    let mut falls = base;
    falls.candidate.fallback_share = Some(0.2);
    let d = policy.look(&mut Active::new("v2", "v1"), &falls);
    assert!(
        matches!(&d, Decision::RollBack(why) if why.contains("fallback")),
        "{d:?}"
    );
    // Slow, but no slower than the current model: the guardrail is about the candidate.
    let mut both = slow;
    both.current.latency_p99_ms = Some(300.0);
    let d = policy.look(&mut Active::new("v2", "v1"), &both);
    assert!(matches!(d, Decision::Hold(_)), "{d:?}");
}

#[test]
fn the_config_names_its_bad_key() {
    let bad = |f: fn(&mut RolloutConfig), key: &str| {
        let mut c = RolloutConfig::default();
        f(&mut c);
        assert_eq!(c.check().unwrap_err().key, key);
    };
    bad(|c| c.steps = vec![50.0, 10.0, 100.0], "steps");
    bad(|c| c.steps = vec![10.0, 50.0], "steps");
    bad(|c| c.min_impressions = 0, "min_impressions");
    bad(|c| c.max_impressions = 1, "max_impressions");
    bad(|c| c.max_ctr_drop = 2.0, "max_ctr_drop");
    RolloutConfig::default().check().unwrap();
}

#[test]
fn the_rollout_experiment_pins_both_versions_and_ramps_by_boundaries() {
    use crate::experiments::Experiments;
    let base = crate::RecommendConfig::default();
    let at = |share| {
        let mut specs = std::collections::BTreeMap::new();
        specs.insert(
            experiment_name("v2", share),
            experiment("v1", "v2", share, Status::Running),
        );
        Experiments::compile(&specs, &base).unwrap()
    };
    let (ten, fifty) = (at(10.0), at(50.0));
    assert_eq!(ten.models(), ["v1", "v2"]);
    let mut moved = 0;
    for u in 0..5_000 {
        let unit = format!("u{u}");
        // Each step is its own experiment: compare the variants, not the labels.
        let variant = |e: &Experiments| {
            let label = e.assign(&unit)[0].label.clone();
            label.rsplit('/').next().unwrap().to_string()
        };
        let (a, b) = (variant(&ten), variant(&fifty));
        // Ramping only moves users from current to candidate.
        if a == CANDIDATE {
            assert_eq!(b, CANDIDATE, "{unit}");
        }
        moved += usize::from(a != b);
    }
    assert!((1_700..2_300).contains(&moved), "{moved} of 5,000 moved");
}
