//! Users: taste (favourite categories and a latent vector), demographics, and the profile
//! record. A user is recomputed from its own stream whenever needed, so a million users cost
//! no memory beyond their activity counts.

use recd_types::{Gender, TimestampMs, User, UserId};

use crate::config::DAY_MS;
use crate::rng::{Purpose, Rng};
use crate::words::{COUNTRIES, DEVICES, category_name};
use crate::world::World;

/// How strongly a user's vector follows the mix of their favourite categories.
const RHO_USER: f32 = 0.7;
/// Sharpness of category choice by taste (higher: users stay closer to their favourites).
const BETA_CATEGORY: f64 = 1.5;
/// Spread of the per-user propensity to engage (click, buy, like) beyond what affinity says.
const PROPENSITY_SIGMA: f64 = 0.5;
/// Share of users who signed up before the window (the rest sign up during it).
const SIGNED_UP_BEFORE: f64 = 0.75;
/// How far before the window the earliest signups are.
const SIGNUP_HISTORY_DAYS: i64 = 1095;
/// Share of users who declared interests at onboarding.
const DECLARES_INTERESTS: f64 = 0.75;

/// A user's hidden and visible traits, recomputed on demand from the user's stream.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    /// Favourite categories and their weights in the taste mix (weights sum to 1).
    pub(crate) favourites: Vec<(u32, f32)>,
    /// Latent taste vector.
    pub(crate) vector: Vec<f32>,
    /// Propensity to engage, added to standardised affinity when choosing event kinds.
    pub(crate) propensity: f32,
    /// Cumulative probabilities of choosing each category (softmax of taste and mass).
    pub(crate) category_cdf: Vec<f64>,
    pub(crate) signup_ms: TimestampMs,
    /// Index into `DEVICES` of the device the user mostly uses.
    pub(crate) device: usize,
    country: usize,
    age: Option<u8>,
    gender: Option<Gender>,
    interests: Vec<u32>,
}

impl Profile {
    /// Draws user `idx`.
    pub(crate) fn draw(world: &World, idx: u32) -> Self {
        let config = &world.config;
        let dim = world.dim;
        let mut rng = Rng::keyed(config.seed, Purpose::User, idx as u64);
        let n_favourites = 1 + rng.below(3) as usize;
        let mut favourites: Vec<(u32, f32)> = Vec::with_capacity(n_favourites);
        for _ in 0..n_favourites {
            let c = world.categories.table.sample(&mut rng);
            let w = rng.f64() as f32 + 0.25;
            match favourites.iter_mut().find(|(fc, _)| *fc == c) {
                Some(f) => f.1 += w,
                None => favourites.push((c, w)),
            }
        }
        let total: f32 = favourites.iter().map(|f| f.1).sum();
        favourites.iter_mut().for_each(|f| f.1 /= total);
        let mut taste = vec![0f32; dim];
        for &(c, w) in &favourites {
            for (t, g) in taste.iter_mut().zip(world.centroid(c as usize)) {
                *t += w * g;
            }
        }
        // Scale the mix to the norm of a typical centroid (sqrt(dim)), so taste strength does
        // not depend on how many favourites were mixed.
        let norm = taste.iter().map(|t| t * t).sum::<f32>().sqrt().max(1e-6);
        let scale = (dim as f32).sqrt() / norm;
        let noise = (1.0 - RHO_USER * RHO_USER).sqrt();
        let vector: Vec<f32> = taste
            .iter()
            .map(|t| RHO_USER * t * scale + noise * rng.normal() as f32)
            .collect();
        let propensity = (PROPENSITY_SIGMA * rng.normal()) as f32;
        let category_cdf = category_cdf(world, &vector);
        let (start, end) = (config.start_ms(), config.end_ms);
        let f = rng.f64();
        let signup_ms = if rng.chance(SIGNED_UP_BEFORE) {
            start - 1 - (f * (SIGNUP_HISTORY_DAYS * DAY_MS) as f64) as i64
        } else {
            // Not in the last two days, so late signups still have time to act.
            start + (f * (end - 2 * DAY_MS - start) as f64) as i64
        };
        let country_weights: Vec<f64> = (1..=COUNTRIES.len())
            .map(|r| (r as f64).powf(-1.1))
            .collect();
        let country = rng.weighted(&country_weights);
        let age = (!rng.chance(0.08)).then(|| (35.0 + 12.0 * rng.normal()).clamp(16.0, 85.0) as u8);
        let gender = match rng.weighted(&[0.48, 0.46, 0.02, 0.04]) {
            0 => Some(Gender::Female),
            1 => Some(Gender::Male),
            2 => Some(Gender::Other),
            _ => None,
        };
        let device_weights: Vec<f64> = DEVICES.iter().map(|d| d.1).collect();
        let device = rng.weighted(&device_weights);
        let interests = declared_interests(&mut rng, &favourites, config.n_categories);
        Self {
            favourites,
            vector,
            propensity,
            category_cdf,
            signup_ms,
            device,
            country,
            age,
            gender,
            interests,
        }
    }

    /// The profile record of user `idx`.
    pub(crate) fn to_user(&self, idx: u32) -> User {
        let mut user = User::new(user_id(idx));
        user.signup_ms = Some(self.signup_ms);
        user.country = Some(COUNTRIES[self.country].to_string());
        user.age = self.age;
        user.gender = self.gender;
        user.interests = self
            .interests
            .iter()
            .map(|&c| category_name(c as usize))
            .collect();
        user.attributes
            .insert("primary_device".into(), DEVICES[self.device].0.into());
        user
    }

    /// Draws a category from the user's preferences.
    pub(crate) fn sample_category(&self, rng: &mut Rng) -> u32 {
        sample_cdf(&self.category_cdf, rng.f64())
    }
}

/// The category at uniform `x` of a cumulative distribution over categories (non-empty).
pub(crate) fn sample_cdf(cdf: &[f64], x: f64) -> u32 {
    let c = cdf.partition_point(|&p| p <= x);
    c.min(cdf.len() - 1) as u32
}

/// Softmax over categories of taste fit (`<u, g_c> / sqrt(dim)`) plus the category's
/// popularity mass, as a cumulative array.
fn category_cdf(world: &World, vector: &[f32]) -> Vec<f64> {
    let sqrt_dim = (world.dim as f64).sqrt();
    let logits: Vec<f64> = (0..world.config.n_categories as usize)
        .map(|c| {
            BETA_CATEGORY * dot(vector, world.centroid(c)) as f64 / sqrt_dim
                + world.log_category_mass[c]
        })
        .collect();
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = logits
        .iter()
        .map(|l| {
            acc += (l - max).exp();
            acc
        })
        .collect();
    cdf.iter_mut().for_each(|p| *p /= acc);
    cdf
}

/// What a user tells at onboarding: mostly their real favourites, sometimes a stray one.
fn declared_interests(rng: &mut Rng, favourites: &[(u32, f32)], n_categories: u32) -> Vec<u32> {
    if !rng.chance(DECLARES_INTERESTS) {
        return Vec::new();
    }
    let mut interests: Vec<u32> = favourites
        .iter()
        .filter(|_| rng.chance(0.85))
        .map(|f| f.0)
        .collect();
    if rng.chance(0.25) {
        let stray = rng.below(n_categories as u64) as u32;
        if !interests.contains(&stray) {
            interests.push(stray);
        }
    }
    interests
}

/// Dot product as a plain sequential sum: the compiler may not reorder float additions, so
/// the result is the same on every thread and every run.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The external id of user `idx`.
pub(crate) fn user_id(idx: u32) -> UserId {
    UserId::parse(format!("u{idx}")).expect("generated ids are valid")
}
