use super::*;

fn spec(salt: &str, shares: &[(&str, f64)]) -> ExperimentSpec {
    ExperimentSpec {
        salt: salt.into(),
        status: Status::Running,
        layer: "default".into(),
        layer_buckets: [0, BUCKETS],
        variants: shares
            .iter()
            .map(|(name, share)| VariantSpec {
                name: (*name).into(),
                share: *share,
                baseline: None,
                recommend: Default::default(),
                model: None,
            })
            .collect(),
    }
}

fn compile(specs: &[(&str, ExperimentSpec)]) -> Result<Experiments, ExperimentError> {
    let map = specs
        .iter()
        .map(|(n, s)| (n.to_string(), s.clone()))
        .collect();
    Experiments::compile(&map, &RecommendConfig::default())
}

fn label(e: &Experiments, user: &str) -> Option<String> {
    e.assign(user).first().map(|v| v.label.clone())
}

const USERS: usize = 100_000;

fn users() -> impl Iterator<Item = String> {
    (0..USERS).map(|i| format!("user-{i}"))
}

#[test]
fn shares_hold_within_one_percent_over_100k_users() {
    let e = compile(&[("ab", spec("s", &[("a", 50.0), ("b", 25.0), ("c", 25.0)]))]).unwrap();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for u in users() {
        *counts.entry(label(&e, &u).unwrap()).or_default() += 1;
    }
    for (variant, want) in [("ab/a", 0.5), ("ab/b", 0.25), ("ab/c", 0.25)] {
        let got = counts[variant] as f64 / USERS as f64;
        assert!((got - want).abs() < 0.01, "{variant}: {got} vs {want}");
    }
}

#[test]
fn assignment_is_sticky_and_independent_between_salts() {
    let one = compile(&[("x", spec("salt-1", &[("a", 50.0), ("b", 50.0)]))]).unwrap();
    let again = compile(&[("x", spec("salt-1", &[("a", 50.0), ("b", 50.0)]))]).unwrap();
    let other = compile(&[("y", spec("salt-2", &[("a", 50.0), ("b", 50.0)]))]).unwrap();
    let (mut same, mut agree) = (0, 0);
    for u in users() {
        let a = label(&one, &u).unwrap();
        same += usize::from(a == label(&again, &u).unwrap());
        let b = label(&other, &u).unwrap();
        agree += usize::from(a.ends_with("/a") == b.ends_with("/a"));
    }
    assert_eq!(same, USERS, "the same spec assigns every user the same way");
    // Independent 50/50 splits agree for half the users.
    let share = agree as f64 / USERS as f64;
    assert!((share - 0.5).abs() < 0.01, "{share}");
}

#[test]
fn ramping_a_canary_moves_users_only_into_the_growing_variant() {
    let before = compile(&[("canary", spec("s", &[("new", 10.0), ("current", 90.0)]))]).unwrap();
    let after = compile(&[("canary", spec("s", &[("new", 50.0), ("current", 50.0)]))]).unwrap();
    let mut moved = 0;
    for u in users() {
        let (b, a) = (label(&before, &u).unwrap(), label(&after, &u).unwrap());
        if b == "canary/new" {
            assert_eq!(a, "canary/new", "{u} left the growing variant");
        }
        if a == "canary/current" {
            assert_eq!(b, "canary/current", "{u} came back from the canary");
        }
        moved += usize::from(a != b);
    }
    let share = moved as f64 / USERS as f64;
    assert!(
        (share - 0.4).abs() < 0.01,
        "{share} moved, not the 40% the ramp asks"
    );
}

#[test]
fn experiments_of_a_layer_exclude_each_other_and_layers_combine() {
    let mut left = spec("l", &[("a", 100.0)]);
    left.layer_buckets = [0, 5_000];
    let mut right = spec("r", &[("a", 100.0)]);
    right.layer_buckets = [5_000, BUCKETS];
    let mut other = spec("o", &[("a", 50.0), ("b", 50.0)]);
    other.layer = "ranking".into();
    let e = compile(&[("left", left.clone()), ("right", right), ("other", other)]).unwrap();
    let (mut l, mut r) = (0, 0);
    for u in users() {
        let got: Vec<String> = e.assign(&u).into_iter().map(|v| v.label.clone()).collect();
        assert_eq!(got.len(), 2, "one per layer: {got:?}");
        let first = got.iter().filter(|g| !g.starts_with("other/")).count();
        assert_eq!(first, 1, "{got:?}");
        l += usize::from(got.iter().any(|g| g.starts_with("left/")));
        r += usize::from(got.iter().any(|g| g.starts_with("right/")));
    }
    assert!((l as f64 / USERS as f64 - 0.5).abs() < 0.01 && l + r == USERS);
    // Overlapping ranges in one layer are refused, naming the field.
    let mut clash = left.clone();
    clash.layer_buckets = [4_000, 6_000];
    let e = compile(&[("left", left), ("zclash", clash)]).unwrap_err();
    assert_eq!(e.field, "experiments.zclash.layer_buckets", "{e}");
}

#[test]
fn bad_specs_are_errors_naming_the_field_and_variants_merge_over_the_base() {
    let e = compile(&[("x", spec("s", &[("a", 60.0), ("b", 30.0)]))]).unwrap_err();
    assert_eq!(e.field, "experiments.x.variants", "{e}");
    let e = compile(&[("x", spec("s", &[("a", 50.0), ("a", 50.0)]))]).unwrap_err();
    assert_eq!(e.field, "experiments.x.variants[1].name", "{e}");
    let e = compile(&[("bad name", spec("s", &[("a", 100.0)]))]).unwrap_err();
    assert_eq!(e.field, "experiments.bad name", "{e}");
    let mut typo = spec("s", &[("a", 50.0), ("b", 50.0)]);
    typo.variants[1]
        .recommend
        .insert("diversty".into(), serde_json::json!("mmr"));
    let e = compile(&[("x", typo)]).unwrap_err();
    assert!(
        e.field.starts_with("experiments.x.variants[1].recommend"),
        "{e}"
    );
    assert!(e.message.contains("diversty"), "{e}");
    let mut bad = spec("s", &[("a", 50.0), ("b", 50.0)]);
    bad.variants[0]
        .recommend
        .insert("diversity".into(), serde_json::json!("sideways"));
    let e = compile(&[("x", bad)]).unwrap_err();
    assert_eq!(
        e.field, "experiments.x.variants[0].recommend.diversity",
        "{e}"
    );
    // A good override changes that key only.
    let mut good = spec("s", &[("a", 50.0), ("b", 50.0)]);
    good.variants[1]
        .recommend
        .insert("diversity".into(), serde_json::json!("mmr"));
    good.variants[1].baseline = Some(Baseline::Popular);
    let e = compile(&[("x", good)]).unwrap();
    let variants: Vec<&Variant> = e.layers["default"][0]
        .variants
        .iter()
        .map(|v| v.as_ref())
        .collect();
    assert_eq!(variants[0].config, RecommendConfig::default());
    assert_eq!(variants[1].config.diversity, crate::Diversity::Mmr);
    assert_eq!(
        variants[1].config.max_per_category,
        RecommendConfig::default().max_per_category
    );
    assert_eq!(variants[1].baseline, Some(Baseline::Popular));
}

#[test]
fn drafts_and_stopped_experiments_assign_nobody() {
    let mut draft = spec("s", &[("a", 100.0)]);
    draft.status = Status::Draft;
    let mut stopped = spec("t", &[("a", 100.0)]);
    stopped.status = Status::Stopped;
    let e = compile(&[("d", draft), ("s", stopped)]).unwrap();
    assert!(e.is_empty());
    assert!(e.assign("anyone").is_empty());
}

#[test]
fn the_bucket_hash_is_stable() {
    // Assignments must not change between versions: pinned values.
    assert_eq!(bucket("salt", "user-1"), bucket("salt", "user-1"));
    let pinned: Vec<u32> = ["a", "b", "user-42"]
        .iter()
        .map(|u| bucket("s", u))
        .collect();
    assert_eq!(pinned, PINNED);
}

/// `bucket("s", u)` for "a", "b", "user-42", as first computed; a change here reshuffles
/// every running experiment.
const PINNED: [u32; 3] = [4946, 282, 6765];
