//! One user's events: sessions laid out in time, each on a device, an item chosen per draw by
//! taste, popularity and the session's device, then a kind, rating, dwell and context per draw.
//!
//! Three streams per user: the `Events` stream decides times and items (so the calibration
//! pilot sees exactly the affinities the real run will see), the `Device` stream each session's
//! device (apart, so the device leaves the other draws where they were; see `devices.rs`), and
//! the `Kinds` stream everything that depends on the calibrated kind model.

use recd_types::{Event, EventKind, ItemId, TimestampMs};

use crate::devices::{SessionCategories, session_device};
use crate::kinds::{KindModel, SEARCH_SHARE};
use crate::rng::{Purpose, Rng};
use crate::users::{Profile, dot, user_id};
use crate::words::{DEVICES, category_name, category_nouns};
use crate::world::World;

/// Mean number of events per session.
const SESSION_MEAN_EVENTS: f64 = 6.0;
/// Median gap between two events of a session, and its log-scale spread.
const GAP_MEDIAN_MS: f64 = 40_000.0;
const GAP_SIGMA: f64 = 1.0;
/// Least pause between two sessions of one user.
const SESSION_PAUSE_MS: i64 = 10 * 60_000;
/// Share of draws that stay in the session's category (the rest draw a fresh one).
const SESSION_STICK: f64 = 0.75;
/// Share of draws taken from global popularity alone, ignoring taste (trends, front page).
const POPULARITY_MIX: f64 = 0.2;
/// Candidates per taste-driven draw, and how sharply affinity picks among them.
const CANDIDATES: usize = 8;
const BETA_ITEM: f32 = 1.5;
/// Activity by hour of day (UTC): quiet nights, an evening peak.
const HOUR_WEIGHTS: [f64; 24] = [
    2.0, 1.5, 1.0, 0.8, 0.7, 0.8, 1.2, 2.0, 3.0, 3.5, 3.8, 4.0, 4.2, 4.1, 4.0, 4.1, 4.3, 4.8, 5.5,
    6.2, 6.5, 6.0, 4.5, 3.0,
];

/// A draw before it becomes an event: when, which session on which device, which item (none
/// for a search).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Draw {
    pub(crate) at_ms: TimestampMs,
    pub(crate) session: u32,
    /// Index into `DEVICES` of the session's device.
    pub(crate) device: u8,
    /// `None` for a search.
    pub(crate) item: Option<u32>,
    /// The category the draw was made in (the search's topic for a search).
    pub(crate) category: u32,
    /// `<u, v_i> / sqrt(dim)`; 0 for a search.
    pub(crate) affinity: f32,
    /// A search's noun (index into the category's nouns), which its query names first; `None`
    /// without search intent (the query's first noun is then drawn as it was before intent).
    pub(crate) noun: Option<u32>,
}

/// One session before its draws: start, number of draws, device and main category.
#[derive(Debug, Clone, Copy)]
struct Session {
    start: TimestampMs,
    len: u64,
    device: usize,
    category: u32,
}

/// Lays out user `idx`'s sessions and chooses every draw's item. Draws come out in time order.
pub(crate) fn draws(world: &World, profile: &Profile, idx: u32) -> Vec<Draw> {
    let n = world.activity[idx as usize];
    if n == 0 {
        return Vec::new();
    }
    let config = &world.config;
    let mut rng = Rng::keyed(config.seed, Purpose::Events, idx as u64);
    let mut device_rng = Rng::keyed(config.seed, Purpose::Device, idx as u64);
    let mut intent_rng = Rng::keyed(config.seed, Purpose::Intent, idx as u64);
    let mut categories = SessionCategories::new(profile, &world.devices);
    let mut lengths: Vec<u64> = vec![1];
    for _ in 1..n {
        if rng.chance(1.0 / SESSION_MEAN_EVENTS) {
            lengths.push(1);
        } else {
            *lengths.last_mut().expect("not empty") += 1;
        }
    }
    let mut sessions: Vec<Session> = lengths
        .iter()
        .map(|&len| {
            let start = session_start(world, profile, &mut rng);
            let device = session_device(profile, &mut device_rng);
            Session {
                start,
                len,
                device,
                category: categories.sample(device, &mut rng),
            }
        })
        .collect();
    sessions.sort_by_key(|s| s.start);
    let last_ms = config.end_ms - 1;
    let sqrt_dim = (world.dim as f32).sqrt();
    let mut res = Vec::with_capacity(n as usize);
    let mut prev_end = TimestampMs::MIN;
    for (session, s) in sessions.iter().enumerate() {
        let Session {
            start,
            len,
            device,
            category: session_category,
        } = *s;
        let mut at_ms = start
            .max(prev_end.saturating_add(SESSION_PAUSE_MS))
            .min(last_ms);
        // The noun of the session's newest search, if it searched.
        let mut searched: Option<u32> = None;
        for k in 0..len {
            if k > 0 {
                let gap = rng.log_normal(GAP_MEDIAN_MS, GAP_SIGMA) as i64;
                at_ms = (at_ms + gap).min(last_ms);
            }
            // A fresh category is still browsed on the session's device, so it follows the
            // device too.
            let category = if rng.chance(SESSION_STICK) {
                session_category
            } else {
                categories.sample(device, &mut rng)
            };
            let draw = if rng.chance(SEARCH_SHARE) {
                let nouns = category_nouns(session_category as usize).len() as u64;
                let noun = intent_rng.below(nouns) as u32;
                searched = (config.search_intent > 0.0).then_some(noun);
                Draw {
                    at_ms,
                    session: session as u32,
                    device: device as u8,
                    item: None,
                    category: session_category,
                    affinity: 0.0,
                    noun: searched,
                }
            } else {
                let mut item = choose_item(world, &profile.vector, category, at_ms, &mut rng);
                // After a search, the user often takes what they asked for. Drawn from its
                // own stream, so the session's other draws stay where they were.
                if let Some(noun) = searched
                    && category == session_category
                    && intent_rng.chance(config.search_intent)
                {
                    item = choose_named(
                        world,
                        &profile.vector,
                        category,
                        noun,
                        at_ms,
                        &mut intent_rng,
                    )
                    .unwrap_or(item);
                }
                Draw {
                    at_ms,
                    session: session as u32,
                    device: device as u8,
                    item: Some(item),
                    category,
                    affinity: dot(&profile.vector, world.item_vector(item)) / sqrt_dim,
                    noun: None,
                }
            };
            res.push(draw);
        }
        prev_end = at_ms;
    }
    res
}

/// A session start: a uniform day between signup (or window start) and the window's end,
/// then an hour of that day by the diurnal profile.
fn session_start(world: &World, profile: &Profile, rng: &mut Rng) -> TimestampMs {
    let config = &world.config;
    let start = config.start_ms();
    let hi = config.end_ms - SESSION_PAUSE_MS;
    let lo = profile.signup_ms.max(start).min(hi - 1);
    let t = lo + (rng.f64() * (hi - lo) as f64) as i64;
    let day_start = start + (t - start).div_euclid(crate::config::DAY_MS) * crate::config::DAY_MS;
    let hour = rng.weighted(&HOUR_WEIGHTS) as i64;
    let at = day_start + hour * 3_600_000 + rng.below(3_600_000) as i64;
    at.clamp(lo, hi)
}

/// Chooses an item that exists at `at_ms`: from global popularity, or by taste among
/// popular candidates of `category` (sampling-importance-resampling of
/// `p(i | u, c) ∝ popularity(i) · exp(beta · affinity(u, i))`).
fn choose_item(
    world: &World,
    user: &[f32],
    category: u32,
    at_ms: TimestampMs,
    rng: &mut Rng,
) -> u32 {
    let exists = |i: u32| world.item_created_ms[i as usize] <= at_ms;
    if rng.chance(POPULARITY_MIX) {
        let item = world.all_items.sample(rng);
        return if exists(item) {
            item
        } else {
            world.old_items.sample(rng)
        };
    }
    let members = &world.category_items[category as usize];
    let sqrt_dim = (world.dim as f32).sqrt();
    let mut candidates = [(0u32, 0f32); CANDIDATES];
    let mut n = 0;
    for _ in 0..CANDIDATES {
        let item = members.sample(rng);
        if exists(item) {
            let score = BETA_ITEM * dot(user, world.item_vector(item)) / sqrt_dim;
            candidates[n] = (item, score);
            n += 1;
        }
    }
    if n == 0 {
        return world.old_items.sample(rng);
    }
    let max = candidates[..n]
        .iter()
        .map(|c| c.1)
        .fold(f32::NEG_INFINITY, f32::max);
    let weights: [f64; CANDIDATES] = std::array::from_fn(|k| {
        if k < n {
            ((candidates[k].1 - max) as f64).exp()
        } else {
            0.0
        }
    });
    candidates[rng.weighted(&weights[..n])].0
}

/// Draws made in `category` before an item whose noun is `noun` is found.
const NAMED_TRIES: usize = 64;

/// Chooses, by taste as [`choose_item`] does, an item of `category` that exists at `at_ms`
/// and whose noun is `noun` (the one a search named); `None` when none is found quickly.
fn choose_named(
    world: &World,
    user: &[f32],
    category: u32,
    noun: u32,
    at_ms: TimestampMs,
    rng: &mut Rng,
) -> Option<u32> {
    let members = &world.category_items[category as usize];
    let nouns = category_nouns(category as usize).len() as u64;
    let sqrt_dim = (world.dim as f32).sqrt();
    let mut candidates: Vec<(u32, f64)> = Vec::with_capacity(CANDIDATES);
    for _ in 0..NAMED_TRIES {
        let item = members.sample(rng);
        let draw = world.draw_item(item);
        if world.item_created_ms[item as usize] <= at_ms && draw.noun % nouns == noun as u64 {
            let score = BETA_ITEM * dot(user, world.item_vector(item)) / sqrt_dim;
            candidates.push((item, f64::from(score)));
            if candidates.len() == CANDIDATES {
                break;
            }
        }
    }
    let max = candidates
        .iter()
        .map(|c| c.1)
        .fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = candidates.iter().map(|c| (c.1 - max).exp()).collect();
    (!candidates.is_empty()).then(|| candidates[rng.weighted(&weights)].0)
}

/// Turns a user's draws into events with kinds, ratings, dwell times and context.
pub(crate) fn render(
    world: &World,
    kinds: &KindModel,
    profile: &Profile,
    idx: u32,
    draws: &[Draw],
) -> Vec<Event> {
    let mut rng = Rng::keyed(world.config.seed, Purpose::Kinds, idx as u64);
    let user = user_id(idx);
    let mut session = u32::MAX;
    let mut session_id = String::new();
    draws
        .iter()
        .map(|draw| {
            if draw.session != session {
                session = draw.session;
                session_id = format!("s{idx}-{session}");
            }
            let mut event = match draw.item {
                None => search_event(&user, draw, &mut rng),
                Some(item) => item_event(kinds, profile, &user, item, draw, &mut rng),
            };
            event.session_id = Some(session_id.clone());
            event.context.device = Some(DEVICES[draw.device as usize].0.to_string());
            event
        })
        .collect()
}

fn search_event(user: &recd_types::UserId, draw: &Draw, rng: &mut Rng) -> Event {
    let nouns = category_nouns(draw.category as usize);
    // Drawn either way, so that the stream's later draws stay where they were.
    let drawn = *rng.pick(nouns);
    let mut words = vec![draw.noun.map_or(drawn, |n| nouns[n as usize % nouns.len()])];
    if rng.chance(0.4) {
        let second = *rng.pick(nouns);
        if second != words[0] {
            words.push(second);
        }
    }
    let mut query = words.join(" ").replace('-', " ");
    if rng.chance(0.2) {
        query = format!("{query} {}", category_name(draw.category as usize));
    }
    let mut event = Event::new(user.clone(), None, EventKind::Search, draw.at_ms);
    event.query = Some(query);
    event.context.page = Some("search".into());
    event
}

fn item_event(
    kinds: &KindModel,
    profile: &Profile,
    user: &recd_types::UserId,
    item: u32,
    draw: &Draw,
    rng: &mut Rng,
) -> Event {
    let z = kinds.z(draw.affinity, profile.propensity);
    let kind = kinds.sample(z, rng);
    let mut event = Event::new(user.clone(), Some(item_id(item)), kind, draw.at_ms);
    (event.value, event.dwell_ms) = details(kind, z, rng);
    let page = page_for(kind, rng);
    if page == "recommendations" {
        event.request_id = Some(format!("req-{}-{}", user.as_str(), draw.session));
    }
    event.context.page = Some(page.to_string());
    event
}

/// The rating (of a rating) and the dwell time (of a skip, view or click) of an event of
/// `kind` at `z`. Shared with the simulated users (`shopper.rs`), so that their events carry
/// the same signals as generated ones.
pub(crate) fn details(kind: EventKind, z: f64, rng: &mut Rng) -> (Option<f32>, Option<u32>) {
    // Ratings follow affinity with noise, in half stars like MovieLens.
    let value = (kind == EventKind::Rating).then(|| {
        let stars = 3.0 + 0.9 * z + 0.8 * rng.normal();
        ((stars * 2.0).round() / 2.0).clamp(0.5, 5.0) as f32
    });
    // Short dwell is the weak negative signal: skips are glances, and views and clicks last
    // longer the more the user likes the item.
    let dwell_ms = match kind {
        EventKind::Skip => Some(rng.log_normal(1_200.0, 0.6)),
        EventKind::View => Some(rng.log_normal(8_000.0 * (0.5 * z).exp(), 0.8)),
        EventKind::Click => Some(rng.log_normal(25_000.0 * (0.4 * z).exp(), 0.8)),
        _ => None,
    };
    (value, dwell_ms.map(|d| d.clamp(50.0, 3_600_000.0) as u32))
}

/// Where an event of `kind` happens.
fn page_for(kind: EventKind, rng: &mut Rng) -> &'static str {
    const BROWSE: [(&str, f64); 5] = [
        ("homepage", 0.30),
        ("recommendations", 0.25),
        ("category", 0.20),
        ("search_results", 0.15),
        ("item_page", 0.10),
    ];
    match kind {
        EventKind::View | EventKind::Click => {
            let weights = BROWSE.map(|p| p.1);
            BROWSE[rng.weighted(&weights)].0
        }
        EventKind::Skip | EventKind::Dislike => {
            if rng.chance(0.6) {
                "recommendations"
            } else {
                "homepage"
            }
        }
        EventKind::Purchase => "checkout",
        EventKind::Search => "search",
        EventKind::AddToCart | EventKind::Rating | EventKind::Like => "item_page",
    }
}

/// The external id of item `idx`.
pub(crate) fn item_id(idx: u32) -> ItemId {
    ItemId::parse(format!("i{idx}")).expect("generated ids are valid")
}
