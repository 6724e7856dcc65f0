//! Properties of generated data: determinism, proportions, tails, validity and learnable
//! structure. One small world is shared by most tests (built once: it is the slow part).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::OnceLock;

use recd_types::{Event, EventKind, ItemId};

use crate::kinds::{SEARCH_SHARE, TARGET_SHARES};
use crate::{DAY_MS, GenConfig, Generator, Reaction};

const USERS: u32 = 3_000;
const ITEMS: u32 = 4_000;
const EVENTS: u64 = 150_000;

/// The shared world and all its events.
fn world() -> &'static (Generator, Vec<Event>) {
    static WORLD: OnceLock<(Generator, Vec<Event>)> = OnceLock::new();
    WORLD.get_or_init(|| {
        let generator = Generator::new(GenConfig::new(USERS, ITEMS, EVENTS, 7)).unwrap();
        let events = generator.blocks().flat_map(|b| b.events).collect();
        (generator, events)
    })
}

/// A digest of everything a generator emits, through its parallel path.
fn digest(config: GenConfig) -> u64 {
    let generator = Generator::new(config).unwrap();
    let mut hasher = DefaultHasher::new();
    generator
        .items()
        .for_each(|i| format!("{i:?}").hash(&mut hasher));
    generator
        .users()
        .for_each(|u| format!("{u:?}").hash(&mut hasher));
    generator
        .for_each_block(|block| {
            block
                .events
                .iter()
                .for_each(|e| format!("{e:?}").hash(&mut hasher));
            Ok::<_, ()>(())
        })
        .unwrap();
    hasher.finish()
}

fn small(seed: u64, threads: usize) -> GenConfig {
    let mut config = GenConfig::new(700, 500, 20_000, seed);
    config.threads = threads;
    config
}

#[test]
fn same_settings_give_the_same_data_whatever_the_threads() {
    let one = digest(small(1, 1));
    assert_eq!(one, digest(small(1, 2)));
    assert_eq!(one, digest(small(1, 3)));
    assert_ne!(one, digest(small(2, 2)));
}

#[test]
fn the_parallel_path_emits_what_the_sequential_one_does() {
    let generator = Generator::new(small(4, 2)).unwrap();
    let sequential: Vec<_> = generator.blocks().collect();
    let mut parallel = Vec::new();
    let stats = generator
        .for_each_block(|b| {
            parallel.push(b);
            Ok::<_, ()>(())
        })
        .unwrap();
    assert_eq!(sequential, parallel);
    assert_eq!(stats.n_events, 20_000);
    assert_eq!(stats.kind_counts.iter().sum::<u64>(), 20_000);
}

#[test]
fn a_failing_sink_stops_generation() {
    let generator = Generator::new(small(4, 2)).unwrap();
    let mut seen = 0;
    let res = generator.for_each_block(|_| {
        seen += 1;
        if seen == 2 { Err("disk full") } else { Ok(()) }
    });
    assert_eq!(res, Err("disk full"));
    assert_eq!(seen, 2);
}

#[test]
fn event_count_is_exact_and_everything_validates() {
    let (generator, events) = world();
    assert_eq!(events.len() as u64, EVENTS);
    for e in events {
        e.validate().unwrap_or_else(|err| panic!("{e:?}: {err}"));
    }
    for item in generator.items() {
        item.validate().unwrap();
    }
    for user in generator.users() {
        user.validate().unwrap();
    }
}

#[test]
fn kinds_follow_the_documented_mix() {
    let (_, events) = world();
    let mut counts = [0usize; 9];
    events.iter().for_each(|e| counts[e.kind.index()] += 1);
    let n = events.len() as f64;
    for (k, target) in TARGET_SHARES.iter().enumerate() {
        let share = counts[k] as f64 / n;
        // Calibration is on a pilot sample: allow a small relative error.
        assert!(
            (share - target).abs() < 0.1 * target + 0.003,
            "{:?}: {share:.4} vs {target}",
            EventKind::ALL[k]
        );
    }
    let search = counts[EventKind::Search.index()] as f64 / n;
    assert!((search - SEARCH_SHARE).abs() < 0.003, "search {search}");
}

#[test]
fn activity_has_a_heavy_tail() {
    let (generator, _) = world();
    let mut counts: Vec<u64> = (0..USERS)
        .map(|u| generator.user_truth(u).n_events)
        .collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: u64 = counts[..USERS as usize / 100].iter().sum();
    let share = top as f64 / EVENTS as f64;
    assert!(share > 0.08, "top 1% of users have {share:.3} of events");
    let median = counts[USERS as usize / 2];
    let mean = EVENTS as f64 / USERS as f64;
    assert!(
        (median as f64) < 0.6 * mean,
        "median {median} vs mean {mean}"
    );
}

#[test]
fn item_popularity_follows_a_power_law() {
    let (_, events) = world();
    let mut per_item: HashMap<&str, u64> = HashMap::new();
    for e in events {
        if let Some(item) = &e.item_id {
            *per_item.entry(item.as_str()).or_default() += 1;
        }
    }
    let mut counts: Vec<u64> = per_item.into_values().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let total: u64 = counts.iter().sum();
    let top: u64 = counts[..ITEMS as usize / 100].iter().sum();
    assert!(
        top as f64 / total as f64 > 0.15,
        "top 1% of items: {}",
        top as f64 / total as f64
    );
    // Least-squares slope of log(count) on log(rank) over ranks 10..1000.
    let points: Vec<(f64, f64)> = (10..1000)
        .filter(|&r| counts.get(r).is_some_and(|&c| c > 0))
        .map(|r| (((r + 1) as f64).ln(), (counts[r] as f64).ln()))
        .collect();
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let slope = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / points.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
    assert!((-1.4..=-0.6).contains(&slope), "log-log slope {slope}");
}

#[test]
fn users_concentrate_on_their_favourite_categories() {
    let (generator, events) = world();
    let mut category_share = vec![0f64; generator.config().n_categories as usize];
    let mut n_item_events = 0.0;
    for e in events {
        if let Some(item) = &e.item_id {
            let idx = Generator::item_index(item).unwrap();
            category_share[generator.item_truth(idx).category as usize] += 1.0;
            n_item_events += 1.0;
        }
    }
    category_share.iter_mut().for_each(|s| *s /= n_item_events);
    let (mut observed, mut chance) = (0.0, 0.0);
    let mut by_user: HashMap<u32, Vec<u32>> = HashMap::new();
    for e in events {
        if let Some(item) = &e.item_id {
            let u = Generator::user_index(&e.user_id).unwrap();
            let c = generator
                .item_truth(Generator::item_index(item).unwrap())
                .category;
            by_user.entry(u).or_default().push(c);
        }
    }
    for (u, categories) in &by_user {
        let favourites: Vec<u32> = generator
            .user_truth(*u)
            .favourite_categories
            .iter()
            .map(|f| f.0)
            .collect();
        observed += categories.iter().filter(|c| favourites.contains(c)).count() as f64;
        chance += categories.len() as f64
            * favourites
                .iter()
                .map(|&c| category_share[c as usize])
                .sum::<f64>();
    }
    let lift = observed / chance;
    eprintln!(
        "favourite lift {lift:.2}, share {:.3}",
        observed / n_item_events
    );
    assert!(
        lift > 3.0,
        "events in favourite categories: {lift:.2}x chance"
    );
}

#[test]
fn affinity_drives_kinds_and_ratings() {
    let (generator, events) = world();
    let affinity = |e: &Event| {
        let u = generator
            .user_truth(Generator::user_index(&e.user_id).unwrap())
            .vector;
        let i = generator
            .item_truth(Generator::item_index(e.item_id.as_ref().unwrap()).unwrap())
            .vector;
        u.iter().zip(&i).map(|(a, b)| a * b).sum::<f32>() as f64
    };
    let mut sums: HashMap<EventKind, (f64, f64)> = HashMap::new();
    let (mut high_rating, mut low_rating) = ((0.0, 0.0), (0.0, 0.0));
    for e in events
        .iter()
        .filter(|e| e.kind != EventKind::Search)
        .step_by(3)
    {
        let a = affinity(e);
        let s = sums.entry(e.kind).or_default();
        s.0 += a;
        s.1 += 1.0;
        if let Some(v) = e.value {
            assert_eq!((v * 2.0).fract(), 0.0, "half stars");
            let bucket = if v >= 4.0 {
                &mut high_rating
            } else {
                &mut low_rating
            };
            bucket.0 += a;
            bucket.1 += 1.0;
        }
    }
    let mean = |k: EventKind| sums[&k].0 / sums[&k].1;
    assert!(mean(EventKind::Purchase) > mean(EventKind::Click));
    assert!(mean(EventKind::Click) > mean(EventKind::View));
    assert!(mean(EventKind::View) > mean(EventKind::Skip));
    assert!(mean(EventKind::Skip) > mean(EventKind::Dislike));
    assert!(high_rating.0 / high_rating.1 > low_rating.0 / low_rating.1);
}

#[test]
fn times_respect_the_window_signups_and_creation() {
    let (generator, events) = world();
    let config = generator.config();
    let mut previous: Option<&Event> = None;
    for e in events {
        assert!((config.start_ms()..config.end_ms).contains(&e.timestamp_ms));
        let u = Generator::user_index(&e.user_id).unwrap();
        let signup = generator.user(u).signup_ms.unwrap();
        assert!(e.timestamp_ms >= signup.min(config.end_ms - DAY_MS));
        if let Some(item) = &e.item_id {
            let created = generator
                .item_truth(Generator::item_index(item).unwrap())
                .created_at_ms;
            assert!(created <= e.timestamp_ms, "{e:?} before creation {created}");
        }
        if let Some(p) = previous.filter(|p| p.user_id == e.user_id) {
            assert!(
                p.timestamp_ms <= e.timestamp_ms,
                "a user's events are in time order"
            );
        }
        previous = Some(e);
    }
}

#[test]
fn new_items_exist_and_get_events() {
    let (generator, events) = world();
    let last_week = generator.config().end_ms - 7 * DAY_MS;
    let new: Vec<u32> = (0..ITEMS)
        .filter(|&i| generator.item_truth(i).created_at_ms >= last_week)
        .collect();
    let share = new.len() as f64 / ITEMS as f64;
    assert!((0.03..0.07).contains(&share), "new items {share}");
    let on_new = events
        .iter()
        .filter_map(|e| e.item_id.as_ref())
        .filter(|i| new.contains(&Generator::item_index(i).unwrap()))
        .count();
    assert!(on_new > 0);
}

#[test]
fn text_agrees_with_the_latent_category() {
    let (generator, events) = world();
    for idx in [0, 17, 999, ITEMS - 1] {
        let item = generator.item(idx);
        let truth = generator.item_truth(idx);
        assert_eq!(item.category, Some(generator.category_name(truth.category)));
        assert!(!item.tags.is_empty() && !item.title.is_empty());
    }
    let mut searches = 0;
    for e in events.iter().filter(|e| e.kind == EventKind::Search) {
        let query = e.query.as_deref().unwrap();
        assert!(query.split(' ').all(|w| !w.is_empty()), "{query:?}");
        searches += 1;
    }
    assert!(searches > 0);
    // Declared interests are mostly the user's real favourites.
    let (mut declared, mut true_ones) = (0, 0);
    for u in 0..500 {
        let favourites: Vec<String> = generator
            .user_truth(u)
            .favourite_categories
            .iter()
            .map(|f| generator.category_name(f.0))
            .collect();
        for interest in generator.user(u).interests {
            declared += 1;
            true_ones += usize::from(favourites.contains(&interest));
        }
    }
    assert!(
        true_ones as f64 > 0.75 * declared as f64,
        "{true_ones}/{declared}"
    );
}

#[test]
fn ids_round_trip_to_indices() {
    assert_eq!(Generator::item_index(&Generator::item_id(42)), Some(42));
    assert_eq!(Generator::user_index(&Generator::user_id(0)), Some(0));
    let odd = recd_types::ItemId::parse("i042").unwrap();
    assert_eq!(Generator::item_index(&odd), None);
}

/// Every user's reactions to one list per user, from a fresh shopper.
fn reactions(
    generator: &Generator,
    users: &[u32],
    list: impl Fn(u32) -> Vec<u32>,
) -> Vec<Vec<Reaction>> {
    users
        .iter()
        .map(|&u| {
            let shown: Vec<ItemId> = list(u).into_iter().map(Generator::item_id).collect();
            generator.react(&mut generator.shopper(u), &shown)
        })
        .collect()
}

#[test]
fn shoppers_click_more_on_what_they_like_and_look_at_the_top_most() {
    let (generator, _) = world();
    let users = generator.sample_users(600);
    let items: Vec<Vec<f32>> = (0..ITEMS).map(|i| generator.item_truth(i).vector).collect();
    let best_for = |u: u32| {
        let taste = generator.user_truth(u).vector;
        let mut by_affinity: Vec<(f32, u32)> = (0..ITEMS)
            .map(|i| {
                (
                    -taste
                        .iter()
                        .zip(&items[i as usize])
                        .map(|(a, b)| a * b)
                        .sum::<f32>(),
                    i,
                )
            })
            .collect();
        by_affinity.sort_by(|a, b| a.0.total_cmp(&b.0));
        by_affinity[..10].iter().map(|p| p.1).collect()
    };
    let mut by_popularity: Vec<u32> = (0..ITEMS).collect();
    by_popularity.sort_by(|&a, &b| {
        let p = |i| generator.item_truth(i).popularity;
        p(b).total_cmp(&p(a))
    });
    let popular: Vec<u32> = by_popularity[..10].to_vec();
    let clicks = |lists: &[Vec<Reaction>]| {
        lists
            .iter()
            .flatten()
            .filter(|r| r.kind == EventKind::Click)
            .count() as f64
    };
    let best = reactions(generator, &users, best_for);
    let pop = reactions(generator, &users, |_| popular.clone());
    assert!(
        clicks(&best) > 2.0 * clicks(&pop),
        "clicks on each user's best items {} vs on the popular ones {}",
        clicks(&best),
        clicks(&pop)
    );
    // Without the device, examination falls with rank as 1 / log2(rank + 2): always the top,
    // 29% of the tenth.
    let mut config = generator.config().clone();
    config.device_effect = 0.0;
    let neutral = Generator::new(config).unwrap();
    let mut examined = [0f64; 10];
    for list in reactions(&neutral, &users, |_| popular.clone()) {
        examined_ranks(&list).for_each(|r| examined[r] += 1.0);
    }
    let n = users.len() as f64;
    assert_eq!(examined[0], n);
    assert!((examined[9] / n - 0.289).abs() < 0.06, "{examined:?}");
    // The funnel: a purchase follows a click and an add_to_cart of the same item.
    for list in best.iter().chain(&pop) {
        for (k, r) in list.iter().enumerate() {
            if r.kind == EventKind::Purchase {
                let before: Vec<(EventKind, usize)> =
                    list[k - 2..k].iter().map(|p| (p.kind, p.rank)).collect();
                assert_eq!(
                    before,
                    [(EventKind::Click, r.rank), (EventKind::AddToCart, r.rank)]
                );
            }
            assert_eq!(r.kind == EventKind::Rating, r.value.is_some(), "{r:?}");
        }
    }
}

/// The ranks of a list that the shopper examined (acted on), once each.
fn examined_ranks(list: &[Reaction]) -> impl Iterator<Item = usize> + '_ {
    let mut ranks: Vec<usize> = list.iter().map(|r| r.rank).collect();
    ranks.dedup();
    ranks.into_iter()
}

/// Over one list per sampled user, the share of shown items examined among those of the
/// favoured categories of the shopper's device, and among the others, at ranks far enough
/// down that looks are far from certain; and the share of shoppers on their usual device.
fn device_attention(generator: &Generator) -> (f64, f64, f64) {
    let users = generator.sample_users(1_000);
    // [favoured, other] × [shown, examined]
    let mut counts = [[0f64; 2]; 2];
    let mut usual = 0.0;
    for &u in &users {
        let mut shopper = generator.shopper(u);
        let primary = generator.user(u).attributes["primary_device"].clone();
        usual += f64::from(u8::from(shopper.device() == primary));
        let favoured = generator
            .device_favoured_categories(shopper.device())
            .unwrap()
            .to_vec();
        let list: Vec<u32> = (0..20).map(|k| (u * 7 + k * 13) % ITEMS).collect();
        let shown: Vec<ItemId> = list.iter().map(|&i| Generator::item_id(i)).collect();
        let examined: Vec<usize> = examined_ranks(&generator.react(&mut shopper, &shown)).collect();
        for (rank, &item) in list.iter().enumerate().skip(6) {
            let other = usize::from(!favoured.contains(&generator.item_truth(item).category));
            counts[other][0] += 1.0;
            counts[other][1] += f64::from(u8::from(examined.contains(&rank)));
        }
    }
    let rate = |k: [f64; 2]| k[1] / k[0];
    (rate(counts[0]), rate(counts[1]), usual / users.len() as f64)
}

#[test]
fn shoppers_look_at_what_their_session_device_favours() {
    let (generator, _) = world();
    let (favoured, other, usual) = device_attention(generator);
    eprintln!("examined: favoured {favoured:.3}, other {other:.3}; usual device {usual:.3}");
    // Favoured categories weigh 4 against 1 in generated sessions; looks saturate a little.
    assert!(favoured / other > 2.0, "{favoured} vs {other}");
    // As in generated sessions, mostly the user's usual device.
    assert!((0.85..0.97).contains(&usual), "{usual}");
    let mut config = generator.config().clone();
    config.device_effect = 0.0;
    let (favoured, other, _) = device_attention(&Generator::new(config).unwrap());
    assert!(
        (favoured / other - 1.0).abs() < 0.1,
        "{favoured} vs {other}"
    );
}

#[test]
fn shoppers_and_samples_are_deterministic() {
    let (generator, _) = world();
    let sample = generator.sample_users(200);
    assert_eq!(sample, generator.sample_users(200));
    let distinct: std::collections::HashSet<u32> = sample.iter().copied().collect();
    assert_eq!(distinct.len(), 200);
    assert!(sample.iter().all(|&u| u < USERS));
    assert_eq!(generator.sample_users(USERS + 5).len(), USERS as usize);
    let list = |u: u32| (0..10).map(|k| (u * 7 + k * 13) % ITEMS).collect();
    assert_eq!(
        reactions(generator, &sample, list),
        reactions(generator, &sample, list)
    );
    // Ids from another world are looked at but never acted on.
    let strangers = [ItemId::parse("x").unwrap(), Generator::item_id(ITEMS + 1)];
    for &u in &sample {
        assert_eq!(generator.react(&mut generator.shopper(u), &strangers), []);
    }
}

/// Per device, the share of the device's favoured categories among its own item events and
/// among the other devices' item events.
fn favoured_shares(generator: &Generator, events: &[Event]) -> Vec<(String, f64, f64)> {
    let category = |e: &Event| {
        let item = Generator::item_index(e.item_id.as_ref()?)?;
        Some(generator.item_truth(item).category)
    };
    ["mobile", "desktop", "tablet"]
        .iter()
        .map(|&device| {
            let favoured = generator.device_favoured_categories(device).unwrap();
            // (favoured, all) item events on this device, then on the others.
            let mut counts = [[0u64; 2]; 2];
            for e in events {
                let Some(c) = category(e) else { continue };
                let elsewhere = usize::from(e.context.device.as_deref() != Some(device));
                counts[elsewhere][0] += u64::from(favoured.contains(&c));
                counts[elsewhere][1] += 1;
            }
            let share = |k: [u64; 2]| k[0] as f64 / k[1].max(1) as f64;
            (device.to_string(), share(counts[0]), share(counts[1]))
        })
        .collect()
}

/// A world with many light users, so that no heavy user sways one device's category mix.
fn device_world(device_effect: f64) -> (Generator, Vec<Event>) {
    let mut config = GenConfig::new(20_000, ITEMS, 200_000, 7);
    config.device_effect = device_effect;
    let generator = Generator::new(config).unwrap();
    let events = generator.blocks().flat_map(|b| b.events).collect();
    (generator, events)
}

#[test]
fn devices_favour_their_categories() {
    let (generator, events) = device_world(crate::DEFAULT_DEVICE_EFFECT);
    let (neutral_generator, neutral_events) = device_world(0.0);
    let strong = favoured_shares(&generator, &events);
    let neutral = favoured_shares(&neutral_generator, &neutral_events);
    eprintln!("device effect {}: {strong:?}", crate::DEFAULT_DEVICE_EFFECT);
    eprintln!("device effect 0: {neutral:?}");
    for (device, own, others) in &strong {
        assert!(
            own / others > 1.6,
            "{device}: favoured share {own:.3} on it vs {others:.3} elsewhere"
        );
    }
    for (device, own, others) in &neutral {
        assert!(
            (own / others - 1.0).abs() < 0.12,
            "{device} without the effect: {own:.3} on it vs {others:.3} elsewhere"
        );
    }
}

#[test]
fn the_strength_moves_no_event_to_another_device() {
    // Devices come from their own stream and every category draw takes one uniform whatever
    // the strength, so a world without the effect differs only in what is browsed: a
    // comparison of the two is not confounded by a different device mix.
    let (generator, events) = world();
    let mut config = generator.config().clone();
    config.device_effect = 0.0;
    let neutral: Vec<Event> = Generator::new(config)
        .unwrap()
        .blocks()
        .flat_map(|b| b.events)
        .collect();
    let devices = |events: &[Event]| -> Vec<(String, Option<String>, Option<String>)> {
        events
            .iter()
            .map(|e| {
                let user = e.user_id.as_str().to_string();
                (user, e.session_id.clone(), e.context.device.clone())
            })
            .collect()
    };
    assert_eq!(devices(events), devices(&neutral));
    let changed = events
        .iter()
        .zip(&neutral)
        .filter(|(a, b)| a.item_id != b.item_id)
        .count();
    assert!(changed > 0, "the strength changes what is browsed");
}

/// FNV-1a over the rank, item and kind of every reaction: a fingerprint that, unlike
/// `DefaultHasher`, is the same under every Rust version.
fn fingerprint(lists: &[Vec<Reaction>]) -> (usize, u64) {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut n = 0;
    for r in lists.iter().flatten() {
        for byte in format!("{}:{}:{};", r.rank, r.item, r.kind.as_str()).bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        n += 1;
    }
    (n, hash)
}

/// The reactions of shoppers without the device effect and search intent, pinned as the
/// shopper made them before it had a device: strengths 0 must leave a simulation exactly as it
/// was (the kind model the shopper uses is calibrated on the generated events).
#[test]
fn without_the_device_effect_shoppers_react_as_they_did_before_devices() {
    let mut config = GenConfig::new(500, 400, 20_000, 11);
    config.device_effect = 0.0;
    config.search_intent = 0.0;
    let generator = Generator::new(config).unwrap();
    let users = generator.sample_users(120);
    let list = |u: u32, step: u32| -> Vec<ItemId> {
        (0..10)
            .map(|k| Generator::item_id((u * 7 + k * 13 + step * 31) % 400))
            .collect()
    };
    let lists: Vec<Vec<Reaction>> = users
        .iter()
        .flat_map(|&u| {
            let mut shopper = generator.shopper(u);
            (0..2)
                .map(|step| generator.react(&mut shopper, &list(u, step)))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(fingerprint(&lists), (1109, 13_003_252_450_567_273_646));
}

/// Share of the item events that follow a search in its session (same session id) whose item
/// has the noun the query names first (an item's first tag is its noun), over `n` such events.
fn named_share(generator: &Generator, events: &[Event]) -> (f64, usize) {
    let noun: Vec<String> = (0..generator.config().n_items)
        .map(|i| generator.item(i).tags[0].replace('-', " "))
        .collect();
    let mut last_search: HashMap<(String, Option<String>), String> = HashMap::new();
    let (mut named, mut n) = (0usize, 0usize);
    for e in events {
        let key = (e.user_id.as_str().to_string(), e.session_id.clone());
        match (&e.query, &e.item_id) {
            (Some(q), None) => {
                last_search.insert(key, q.clone());
            }
            (None, Some(item)) => {
                if let Some(q) = last_search.get(&key) {
                    let idx: usize = item.as_str()[1..].parse().unwrap();
                    n += 1;
                    named += usize::from(q.starts_with(noun[idx].as_str()));
                }
            }
            _ => {}
        }
    }
    (named as f64 / n.max(1) as f64, n)
}

#[test]
fn after_a_search_its_session_takes_what_it_names() {
    let (generator, events) = world();
    let (share, n) = named_share(generator, events);
    let mut config = generator.config().clone();
    config.search_intent = 0.0;
    let neutral = Generator::new(config).unwrap();
    let neutral_events: Vec<Event> = neutral.blocks().flat_map(|b| b.events).collect();
    let (neutral_share, neutral_n) = named_share(&neutral, &neutral_events);
    eprintln!(
        "items named by the session's search: {share:.3} of {n} (intent {}), {neutral_share:.3} of {neutral_n} (intent 0)",
        crate::DEFAULT_SEARCH_INTENT
    );
    assert!(
        n >= 200 && neutral_n >= 200,
        "too few events after a search"
    );
    assert!(
        share > neutral_share + 0.2,
        "{share:.3} with intent, {neutral_share:.3} without"
    );
}
