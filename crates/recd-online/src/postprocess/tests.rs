//! Rules one at a time on a 12-item model: items 0..12, category = item % 3 (names a, b, c).

use std::collections::HashSet;

use recd_model::als::Factors;
use recd_model::content::ContentEncoder;
use recd_model::csr::Csr;
use recd_model::ids::IdIndex;
use recd_model::ranker::{Layer, Ranker};
use recd_model::{ItemMeta, Model, ScoringParams};

use super::*;

const N: u32 = 12;

pub(crate) fn model() -> Model {
    let n = N as usize;
    let dim = 4;
    let mut content = vec![0f32; n * dim];
    for i in 0..n {
        content[i * dim + i % 3] = 1.0;
    }
    Model {
        version: "v1".into(),
        users: IdIndex::new(vec![]).unwrap(),
        items: IdIndex::new((0..n).map(|i| format!("i{i}")).collect()).unwrap(),
        user_factors: Factors::zeros(0, 2),
        item_factors: Factors::zeros(n, 2),
        neighbors: Csr::from_rows((0..n).map(|_| Vec::<(u32, f32)>::new())),
        neighbors_rev: Csr::from_rows((0..n).map(|_| Vec::<(u32, f32)>::new())),
        history: Csr::from_rows(Vec::<Vec<(u32, f32)>>::new()),
        user_last_ms: vec![],
        popularity: vec![1.0; n],
        trending: vec![0.0; n],
        content,
        encoder: ContentEncoder { dim },
        meta: ItemMeta {
            categories: vec!["a".into(), "b".into(), "c".into()],
            category: (0..n as u32).map(|i| i % 3).collect(),
            created_ms: vec![i64::MIN; n],
            price: vec![f32::NAN; n],
            available: vec![true; n],
        },
        ranker: Ranker::new(
            vec![],
            vec![],
            vec![],
            vec![Layer {
                n_in: 0,
                n_out: 1,
                weights: vec![],
                bias: vec![0.0],
            }],
            "fixed",
        ),
        light_ranker: None,
        context: Default::default(),
        params: ScoringParams::default(),
        derived: Default::default(),
    }
}

/// Items 0..12 with descending scores.
fn ranked() -> Vec<Pick> {
    (0..N)
        .map(|item| Pick {
            item,
            score: 1.0 - item as f32 / 100.0,
            source: "als",
            reason: Reason::LikeYou,
        })
        .collect()
}

struct Case {
    n: usize,
    exclude: recd_model::pipeline::ItemSet,
    unavailable: HashSet<u32>,
    sponsored: HashSet<u32>,
    category: Option<u32>,
    pinned: Vec<u32>,
    usual: ItemSet,
    seed: u64,
    config: RecommendConfig,
    /// Items marked as matching a search.
    searched: HashSet<u32>,
}

impl Default for Case {
    fn default() -> Self {
        Self {
            n: 4,
            exclude: Default::default(),
            unavailable: HashSet::new(),
            sponsored: HashSet::new(),
            category: None,
            pinned: vec![],
            usual: ItemSet::default(),
            seed: 1,
            searched: HashSet::new(),
            config: RecommendConfig {
                diversity: Diversity::None,
                exploration_share: 0.0,
                ..RecommendConfig::default()
            },
        }
    }
}

fn check(case: Case) -> Vec<Pick> {
    let model = model();
    let live: Vec<Live> = (0..N)
        .map(|i| Live {
            available: !case.unavailable.contains(&i),
            sponsored: case.sponsored.contains(&i),
            created_ms: i64::MIN,
        })
        .collect();
    let req = Request {
        n: case.n,
        exclude: &case.exclude,
        live: &live,
        category: case.category,
        pinned: &case.pinned,
        usual_categories: &case.usual,
        now_ms: 0,
        new_arrival_days: 14.0,
        seed: case.seed,
    };
    let mut picks = ranked();
    for p in picks.iter_mut().filter(|p| case.searched.contains(&p.item)) {
        p.source = "search";
        p.reason = Reason::Searched(0);
    }
    finish(&model, picks, &req, &case.config)
}

fn items(picks: &[Pick]) -> Vec<u32> {
    picks.iter().map(|p| p.item).collect()
}

#[test]
fn seen_and_unavailable_items_never_come_back() {
    let out = check(Case {
        exclude: [0, 2].into_iter().collect(),
        unavailable: [1].into(),
        pinned: vec![2],
        ..Case::default()
    });
    assert_eq!(items(&out), [3, 4, 5, 6]);
}

#[test]
fn sponsored_items_are_boosted_and_pinned_items_lead() {
    let mut case = Case {
        sponsored: [3].into(),
        ..Case::default()
    };
    case.config.sponsored_boost = 2.0;
    assert_eq!(items(&check(case)), [3, 0, 1, 2]);
    let out = check(Case {
        pinned: vec![9, 8],
        ..Case::default()
    });
    assert_eq!(items(&out), [9, 8, 0, 1]);
    assert_eq!(out[0].source, "pinned");
}

#[test]
fn search_matches_take_their_slots_after_the_pinned_items() {
    let case = |slots: usize| {
        let mut case = Case {
            pinned: vec![9],
            searched: [10, 7, 11].into(),
            ..Case::default()
        };
        case.config.search_slots = slots;
        case
    };
    // The best-ranked two matches, in rank order, whatever their score.
    let out = check(case(2));
    assert_eq!(items(&out), [9, 7, 10, 0]);
    assert_eq!(out[1].source, "search");
    // No slots: the matches compete on score alone.
    assert_eq!(items(&check(case(0))), [9, 0, 1, 2]);
}

#[test]
fn the_category_cap_limits_each_category() {
    let mut case = Case {
        n: 20,
        ..Case::default()
    };
    case.config.diversity = Diversity::Cap;
    case.config.max_per_category = 1;
    // Cap 1 per 20 results: one item per category first, then the rest fill in rank order.
    let out = check(case);
    assert_eq!(&items(&out)[..3], [0, 1, 2]);
    assert_eq!(out.len(), N as usize);
    let mut case = Case {
        n: 6,
        ..Case::default()
    };
    case.config.diversity = Diversity::Cap;
    case.config.max_per_category = 7; // ceil(7 * 6 / 20) = 3 per category
    assert_eq!(items(&check(case)), [0, 1, 2, 3, 4, 5]);
}

#[test]
fn mmr_spreads_categories() {
    let mut case = Case {
        n: 3,
        ..Case::default()
    };
    case.config.diversity = Diversity::Mmr;
    case.config.mmr_lambda = 0.5;
    let out = check(case);
    let cats: HashSet<u32> = out.iter().map(|p| p.item % 3).collect();
    assert_eq!(cats.len(), 3, "{:?}", items(&out));
}

#[test]
fn a_category_context_keeps_only_that_category() {
    let out = check(Case {
        category: Some(1),
        ..Case::default()
    });
    assert_eq!(items(&out), [1, 4, 7, 10]);
}

#[test]
fn exploration_takes_slots_outside_usual_categories_deterministically() {
    let case = |seed| {
        let mut c = Case {
            n: 10,
            usual: [0, 1].into_iter().collect(),
            seed,
            ..Case::default()
        };
        c.config.exploration_share = 0.2;
        c
    };
    let mut explored_items = HashSet::new();
    for seed in 0..32 {
        let out = check(case(seed));
        assert_eq!(out, check(case(seed)), "same request id, same list");
        assert_eq!(out.len(), 10);
        let distinct: HashSet<u32> = items(&out).into_iter().collect();
        assert_eq!(distinct.len(), 10, "no duplicates: {out:?}");
        // The fill is items 0..8 in rank order; one slot explores category 2 beyond them
        // (8 or 11), the other falls back to rank order (one exploration per category).
        let explored: Vec<(usize, &Pick)> = out
            .iter()
            .enumerate()
            .filter(|(_, p)| p.source == "exploration")
            .collect();
        assert_eq!(explored.len(), 1, "{out:?}");
        let (pos, pick) = explored[0];
        assert!([8, 11].contains(&pick.item) && pos >= 2, "{out:?}");
        explored_items.insert(pick.item);
    }
    assert_eq!(
        explored_items.len(),
        2,
        "the request id decides which item explores"
    );
}

#[test]
fn the_category_cap_holds_after_the_exploration_slots_and_they_say_so() {
    // Nine slots, at most 3 of a category: feasible with 3 categories. Half the slots
    // explore; once the two categories outside the usual one are used, the rest would go to
    // the next best in rank order (items 6 and 9, both of category 0) and break the cap.
    for seed in 0..32 {
        let mut c = Case {
            n: 9,
            usual: [0].into_iter().collect(),
            seed,
            ..Case::default()
        };
        c.config.exploration_share = 0.5;
        c.config.diversity = Diversity::Cap;
        c.config.max_per_category = 6;
        let out = check(c);
        assert_eq!(out.len(), 9, "{out:?}");
        for cat in 0..3 {
            let n = out.iter().filter(|p| p.item % 3 == cat).count();
            assert!(n <= 3, "category {cat} has {n}: {out:?}");
        }
        let explored: Vec<&Pick> = out.iter().filter(|p| p.source == "exploration").collect();
        assert_eq!(explored.len(), 2, "{out:?}");
        for p in explored {
            assert_eq!(p.reason, Reason::Exploration(p.item % 3), "{out:?}");
        }
    }
}

#[test]
fn the_key_sort_orders_like_total_cmp_then_item() {
    // Scores with ties, both zeros, negatives, infinities and NaNs of both signs.
    let specials = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
    ];
    let mut picks: Vec<Pick> = (0..400u32)
        .map(|i| Pick {
            item: (i * 7919) % 1009,
            score: if i % 3 == 0 {
                specials[(i as usize / 3) % specials.len()]
            } else {
                ((mix(u64::from(i)) % 2001) as f32 - 1000.0) / 37.0
            },
            source: "als",
            reason: Reason::LikeYou,
        })
        .collect();
    let mut want = picks.clone();
    want.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
    sort_best_first(&mut picks);
    let bits =
        |v: &[Pick]| -> Vec<(u32, u32)> { v.iter().map(|p| (p.score.to_bits(), p.item)).collect() };
    assert_eq!(bits(&picks), bits(&want));
}
