//! The world the events are drawn from: categories, items with latent vectors, popularity,
//! creation times, and each user's exact number of events.
//!
//! Built once, in O(items + users) memory (about 12 bytes per user and 8·dim bytes per item);
//! everything else about a user is recomputed on demand from the user's own random stream (see
//! `users.rs`), so nothing grows with the number of events.

use recd_types::TimestampMs;

use crate::alias::AliasTable;
use crate::config::DAY_MS;
use crate::devices::DeviceEffect;
use crate::rng::{Purpose, Rng};
use crate::words::BRANDS;
use crate::{GenConfig, GenError};

/// Exponent of the item popularity power law (weight of the item of rank r is r^-ZIPF).
const ZIPF: f64 = 1.0;
/// Exponent of the category size power law (milder than items: some big, many mid-sized).
const CATEGORY_ZIPF: f64 = 0.6;
/// How strongly an item's vector follows its category centroid (0 = not at all, 1 = exactly).
const RHO_ITEM: f32 = 0.6;
/// Log-scale spread of user activity: many light users, a few very heavy ones.
const ACTIVITY_SIGMA: f64 = 1.5;
/// Cap on one user's activity weight, in multiples of the mean (keeps one user from
/// dominating small worlds).
const ACTIVITY_CAP: f64 = 100.0;
/// Share of items created before the window, and during it up to the last week; the rest
/// (5%) are created in the last 7 days.
const ITEMS_OLD: f64 = 0.80;
const ITEMS_MID: f64 = 0.15;
/// How far before the window the oldest items were created.
const ITEM_HISTORY_DAYS: i64 = 730;
/// Share of unavailable (sold out, withdrawn) and sponsored items.
const UNAVAILABLE: f64 = 0.03;
const SPONSORED: f64 = 0.02;
/// Brands a category mostly sells (the rest of its items pick any brand).
const HOUSE_BRANDS: usize = 3;
const HOUSE_BRAND_SHARE: f64 = 0.8;

/// Everything drawn about one item, in the order it is drawn from the item's stream.
#[derive(Debug, Clone)]
pub(crate) struct ItemDraw {
    pub(crate) category: u32,
    pub(crate) vector: Vec<f32>,
    pub(crate) created_ms: TimestampMs,
    pub(crate) price_cents: u64,
    pub(crate) available: bool,
    pub(crate) sponsored: bool,
    pub(crate) brand: usize,
    /// Raw draws for the title words; reduced modulo the word list's length when rendered.
    pub(crate) adjective: u64,
    pub(crate) noun: u64,
    pub(crate) model: u32,
    pub(crate) colour: u64,
}

/// Items of one category and the alias table over their popularity.
#[derive(Debug)]
pub(crate) struct Members {
    pub(crate) items: Vec<u32>,
    pub(crate) table: AliasTable,
}

impl Members {
    fn new(items: Vec<u32>, popularity: &[f64]) -> Option<Self> {
        let weights: Vec<f64> = items.iter().map(|&i| popularity[i as usize]).collect();
        let table = AliasTable::new(&weights)?;
        Some(Self { items, table })
    }

    /// Draws an item of this set with probability proportional to its popularity.
    pub(crate) fn sample(&self, rng: &mut Rng) -> u32 {
        self.items[self.table.sample(rng) as usize]
    }
}

/// What is drawn about the categories before any item.
#[derive(Debug)]
pub(crate) struct Categories {
    /// Category centroids, `n_categories × dim`, row-major.
    pub(crate) centroids: Vec<f32>,
    /// Relative size of each category (drives item assignment and favourite picks).
    pub(crate) table: AliasTable,
    /// Log of each category's price level.
    pub(crate) price_level: Vec<f64>,
    /// Each category's house brands (indices into `BRANDS`).
    pub(crate) brands: Vec<[usize; HOUSE_BRANDS]>,
}

impl Categories {
    fn build(config: &GenConfig) -> Self {
        let n_categories = config.n_categories as usize;
        let mut rng = Rng::keyed(config.seed, Purpose::Categories, 0);
        let centroids: Vec<f32> = (0..n_categories * config.dim)
            .map(|_| rng.normal() as f32)
            .collect();
        let mut ranks: Vec<usize> = (1..=n_categories).collect();
        rng.shuffle(&mut ranks);
        let sizes: Vec<f64> = ranks
            .iter()
            .map(|&r| (r as f64).powf(-CATEGORY_ZIPF))
            .collect();
        let table = AliasTable::new(&sizes).expect("category sizes are positive");
        let price_level = (0..n_categories)
            .map(|_| 5f64.ln() + rng.f64() * (250f64.ln() - 5f64.ln()))
            .collect();
        let brands = (0..n_categories)
            .map(|_| std::array::from_fn(|_| rng.below(BRANDS.len() as u64) as usize))
            .collect();
        Self {
            centroids,
            table,
            price_level,
            brands,
        }
    }
}

/// Categories, items and activity counts.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) config: GenConfig,
    pub(crate) dim: usize,
    pub(crate) categories: Categories,
    /// Log of each category's share of total popularity (a prior in category choice).
    pub(crate) log_category_mass: Vec<f64>,
    pub(crate) item_category: Vec<u32>,
    /// Item vectors, `n_items × dim`, row-major.
    pub(crate) item_vectors: Vec<f32>,
    pub(crate) item_created_ms: Vec<TimestampMs>,
    /// Normalised popularity (sums to 1).
    pub(crate) item_popularity: Vec<f64>,
    /// All items by popularity.
    pub(crate) all_items: Members,
    /// Items that exist before the window: the fallback when a draw hits an item not yet created.
    pub(crate) old_items: Members,
    /// Per category, its items by popularity.
    pub(crate) category_items: Vec<Members>,
    /// Exact number of events of each user; sums to `n_events`.
    pub(crate) activity: Vec<u64>,
    /// Which categories each device class favours in its sessions.
    pub(crate) devices: DeviceEffect,
}

impl World {
    pub(crate) fn build(config: GenConfig) -> Result<Self, GenError> {
        config.validate()?;
        let n_items = config.n_items as usize;
        let n_categories = config.n_categories as usize;
        let dim = config.dim;
        let categories = Categories::build(&config);
        let mut rng = Rng::keyed(config.seed, Purpose::Popularity, 0);
        let mut ranks: Vec<u32> = (1..=n_items as u32).collect();
        rng.shuffle(&mut ranks);
        let raw: Vec<f64> = ranks.iter().map(|&r| (r as f64).powf(-ZIPF)).collect();
        let total: f64 = raw.iter().sum();
        let popularity: Vec<f64> = raw.iter().map(|p| p / total).collect();
        let mut item_category = Vec::with_capacity(n_items);
        let mut item_vectors = Vec::with_capacity(n_items * dim);
        let mut item_created_ms = Vec::with_capacity(n_items);
        for idx in 0..n_items as u32 {
            let mut draw = draw_item(&config, &categories, idx);
            // The most popular item always exists before the window, so a draw that lands on
            // a not-yet-created item always has somewhere to fall back to.
            if ranks[idx as usize] == 1 {
                draw.created_ms = draw.created_ms.min(config.start_ms() - 1);
            }
            item_category.push(draw.category);
            item_vectors.extend_from_slice(&draw.vector);
            item_created_ms.push(draw.created_ms);
        }
        let mut by_category: Vec<Vec<u32>> = vec![Vec::new(); n_categories];
        let mut mass = vec![0.0f64; n_categories];
        for (idx, &c) in item_category.iter().enumerate() {
            by_category[c as usize].push(idx as u32);
            mass[c as usize] += popularity[idx];
        }
        let category_items = by_category
            .into_iter()
            .map(|items| Members::new(items, &popularity).expect("every category has an item"))
            .collect();
        let start = config.start_ms();
        let old: Vec<u32> = (0..n_items as u32)
            .filter(|&i| item_created_ms[i as usize] < start)
            .collect();
        Ok(Self {
            dim,
            categories,
            log_category_mass: mass.iter().map(|m| m.ln()).collect(),
            item_category,
            item_vectors,
            item_created_ms,
            all_items: Members::new((0..n_items as u32).collect(), &popularity)
                .expect("items exist"),
            old_items: Members::new(old, &popularity).expect("the top item is old"),
            item_popularity: popularity,
            category_items,
            activity: activity_counts(&config),
            devices: DeviceEffect::build(&config),
            config,
        })
    }

    /// Draws item `idx` from its own stream: the same answer whenever it is asked.
    pub(crate) fn draw_item(&self, idx: u32) -> ItemDraw {
        draw_item(&self.config, &self.categories, idx)
    }

    /// Item `idx`'s latent vector.
    pub(crate) fn item_vector(&self, idx: u32) -> &[f32] {
        let i = idx as usize;
        &self.item_vectors[i * self.dim..(i + 1) * self.dim]
    }

    /// Category `c`'s centroid.
    pub(crate) fn centroid(&self, c: usize) -> &[f32] {
        &self.categories.centroids[c * self.dim..(c + 1) * self.dim]
    }
}

/// Draws item `idx` from its own stream: the same answer whenever it is asked.
fn draw_item(config: &GenConfig, categories: &Categories, idx: u32) -> ItemDraw {
    let mut rng = Rng::keyed(config.seed, Purpose::Item, idx as u64);
    // The first items take one category each, so no category is empty.
    let category = if idx < config.n_categories {
        idx
    } else {
        categories.table.sample(&mut rng)
    };
    let c = category as usize;
    let centroid = &categories.centroids[c * config.dim..(c + 1) * config.dim];
    let noise = (1.0 - RHO_ITEM * RHO_ITEM).sqrt();
    let vector = centroid
        .iter()
        .map(|g| RHO_ITEM * g + noise * rng.normal() as f32)
        .collect();
    let (start, end) = (config.start_ms(), config.end_ms);
    let r = rng.f64();
    let f = rng.f64();
    let created_ms = if r < ITEMS_OLD {
        start - 1 - (f * (ITEM_HISTORY_DAYS * DAY_MS) as f64) as i64
    } else if r < ITEMS_OLD + ITEMS_MID {
        start + (f * (end - 7 * DAY_MS - start) as f64) as i64
    } else {
        end - 7 * DAY_MS + (f * (7 * DAY_MS) as f64) as i64
    };
    let price = (categories.price_level[c] + 0.45 * rng.normal()).exp();
    let price_cents = ((price * 100.0).round() as u64).max(99);
    let available = !rng.chance(UNAVAILABLE);
    let sponsored = rng.chance(SPONSORED);
    let brand = if rng.chance(HOUSE_BRAND_SHARE) {
        *rng.pick(&categories.brands[c])
    } else {
        rng.below(BRANDS.len() as u64) as usize
    };
    ItemDraw {
        category,
        vector,
        created_ms,
        price_cents,
        available,
        sponsored,
        brand,
        adjective: rng.next_u64(),
        noun: rng.next_u64(),
        model: 100 + rng.below(900) as u32,
        colour: rng.next_u64(),
    }
}

/// Splits `n_events` over users by log-normal weights, exactly (largest remainder), giving
/// every user at least one event when there are enough events to go round.
fn activity_counts(config: &GenConfig) -> Vec<u64> {
    let n_users = config.n_users as usize;
    let mut weights: Vec<f64> = (0..n_users as u64)
        .map(|u| {
            let mut rng = Rng::keyed(config.seed, Purpose::Activity, u);
            rng.log_normal(1.0, ACTIVITY_SIGMA)
        })
        .collect();
    let mean = weights.iter().sum::<f64>() / n_users as f64;
    for w in &mut weights {
        *w = (*w / mean).min(ACTIVITY_CAP);
    }
    let base = u64::from(config.n_events >= n_users as u64);
    let rest = config.n_events - base * n_users as u64;
    let total: f64 = weights.iter().sum();
    let shares: Vec<f64> = weights.iter().map(|w| rest as f64 * w / total).collect();
    let mut counts: Vec<u64> = shares.iter().map(|s| s.floor() as u64).collect();
    let assigned: u64 = counts.iter().sum();
    // Rounding can overshoot by a hair in f64; take back from the largest counts first.
    let mut order: Vec<usize> = (0..n_users).collect();
    if assigned > rest {
        order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
        for &u in order.iter().cycle().take((assigned - rest) as usize) {
            counts[u] -= 1;
        }
    } else {
        let frac = |u: usize| shares[u] - shares[u].floor();
        order.sort_by(|&a, &b| frac(b).total_cmp(&frac(a)).then(a.cmp(&b)));
        let left = (rest - assigned) as usize;
        for &u in order.iter().cycle().take(left) {
            counts[u] += 1;
        }
    }
    counts.iter_mut().for_each(|c| *c += base);
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_sums_exactly() {
        for (users, events) in [(1, 5), (10, 3), (1000, 12_345), (7, 7)] {
            let config = GenConfig::new(users, 100, events, 3);
            let counts = activity_counts(&config);
            assert_eq!(counts.iter().sum::<u64>(), events);
            if events >= users as u64 {
                assert!(counts.iter().all(|&c| c >= 1));
            }
        }
    }

    #[test]
    fn every_category_has_items_and_an_old_item_exists() {
        let world = World::build(GenConfig::new(10, 30, 100, 5)).unwrap();
        assert!(world.category_items.iter().all(|m| !m.items.is_empty()));
        let start = world.config.start_ms();
        assert!(
            world
                .old_items
                .items
                .iter()
                .all(|&i| world.item_created_ms[i as usize] < start)
        );
    }
}
