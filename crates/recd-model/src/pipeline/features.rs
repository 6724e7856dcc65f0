//! The ranker's features, one row per candidate. Shared by serving and training.
//!
//! Score-like features (item-kNN, ALS, content) are standardised within the request's
//! candidate set: their scale differs from user to user (a heavy user's kNN sums are larger),
//! and the ranker should compare candidates of one user, not users. Other features are
//! absolute and standardised by the ranker's stored mean and deviation.

use super::UserState;
use super::generate::{Merged, Source};
use super::signals::Signals;
use crate::Model;
use crate::als::{prefetch, prefetch_row};
use crate::content::dot;
use crate::context::ContextKind;
use crate::model::{NO_CATEGORY, UNKNOWN_TIME};

/// Feature names, in row order. Part of the artifact contract: a ranker stores the list it
/// was trained with and the loader refuses a mismatch.
pub const NAMES: [&str; 25] = [
    "knn_recent",
    "knn_all",
    "als",
    "content",
    "popularity",
    "trending",
    "category_share",
    "item_age_log_days",
    "item_age_known",
    "price_log",
    "history_log",
    "knn_recent_x_history",
    "als_x_history",
    "src_item_knn",
    "src_als",
    "src_content",
    "src_popular_trending_new",
    "hour_sin",
    "hour_cos",
    "session_category",
    "device_lift",
    "page_lift",
    "hour_lift",
    "segment_lift",
    "search_match",
];

/// The features that read the request's moment ([`super::Moment`]). Training also fits a
/// ranker without them and keeps it where they do not rank its validation slice better (data
/// whose log carries no devices or sessions, where they add only noise).
pub const MOMENT: [&str; 7] = [
    "hour_sin",
    "hour_cos",
    "session_category",
    "device_lift",
    "page_lift",
    "hour_lift",
    "segment_lift",
];

const DAY_MS: f64 = 86_400_000.0;

/// Feature rows for `cands`, row-major.
pub fn compute(model: &Model, state: &UserState, signals: &Signals, cands: &[Merged]) -> Vec<f32> {
    let d = NAMES.len();
    let n = cands.len();
    let mut knn_recent = Vec::with_capacity(n);
    let mut knn_all = Vec::with_capacity(n);
    let mut als = Vec::with_capacity(n);
    let mut content = Vec::with_capacity(n);
    let vector = state
        .vector
        .as_deref()
        .filter(|v| v.len() == model.item_factors.n_factors());
    let records = model.item_records();
    // The candidates' vectors and records are scattered over tens of MB at 100k items; asking
    // for them a few candidates ahead overlaps the cache misses instead of paying them in turn.
    const AHEAD: usize = 4;
    let ask_ahead = |k: usize| {
        if let Some(c) = cands.get(k) {
            prefetch(&records[c.item as usize]);
            signals.prefetch(c.item);
            if vector.is_some() && c.als.is_nan() {
                prefetch_row(model.item_factors.row(c.item as usize));
            }
            if !signals.profile.is_empty() && c.content.is_nan() {
                model.prefetch_content(c.item);
            }
        }
    };
    (0..AHEAD).for_each(ask_ahead);
    for (k, c) in cands.iter().enumerate() {
        ask_ahead(k + AHEAD);
        let i = c.item as usize;
        knn_recent.push(signals.knn_recent(c.item));
        knn_all.push(signals.knn_all(c.item));
        // A generator's own score is the same dot product (same kernel, same order), so
        // it is reused: the candidates' vectors are the costliest memory a request reads.
        als.push(match vector {
            None => 0.0,
            Some(_) if !c.als.is_nan() => c.als,
            Some(v) => dot(v, model.item_factors.row(i)),
        });
        content.push(if signals.profile.is_empty() {
            0.0
        } else if !c.content.is_nan() {
            c.content
        } else {
            model.content_dot(&signals.profile, c.item)
        });
    }
    for col in [&mut knn_recent, &mut knn_all, &mut als, &mut content] {
        standardize(col);
    }
    let history_log = (1.0 + signals.n_positive as f32).ln();
    let moment = &state.moment;
    // Whole hours (UTC), so that two requests in the same hour rank alike wherever they are
    // made (a batch list with `--at` and the server's answer).
    let hour = moment
        .at_ms
        .map(|t| t.rem_euclid(DAY_MS as i64) / 3_600_000);
    let (hour_sin, hour_cos) = hour.map_or((0.0, 0.0), |h| {
        let angle = ((h as f64 + 0.5) / 24.0 * std::f64::consts::TAU) as f32;
        (angle.sin(), angle.cos())
    });
    let lifts = &model.context;
    let hour_key = hour.map(|h| h.to_string());
    let rows = [
        (ContextKind::Device, moment.device.as_deref()),
        (ContextKind::Page, moment.page.as_deref()),
        (ContextKind::Hour, hour_key.as_deref()),
        (ContextKind::Segment, moment.segment.as_deref()),
    ]
    .map(|(kind, value)| value.and_then(|v| lifts.row(kind, v)));
    let lift = |k: usize, cat: u32| match rows[k] {
        Some(row) if cat != NO_CATEGORY => row[cat as usize],
        _ => 0.0,
    };
    let session_category = moment.session_category.unwrap_or(NO_CATEGORY);
    let mut out = Vec::with_capacity(n * d);
    for (k, c) in cands.iter().enumerate() {
        let r = &records[c.item as usize];
        let (cat, created) = (r.category, r.created_ms);
        let age_days = if created == UNKNOWN_TIME {
            0.0
        } else {
            ((state.now_ms - created).max(0) as f64 / DAY_MS) as f32
        };
        let has = |s: Source| if c.sources & s.bit() != 0 { 1.0 } else { 0.0 };
        out.extend_from_slice(&[
            knn_recent[k],
            knn_all[k],
            als[k],
            content[k],
            r.popularity,
            r.trending,
            if cat == NO_CATEGORY {
                0.0
            } else {
                signals.category_share[cat as usize]
            },
            (1.0 + age_days).ln(),
            if created == UNKNOWN_TIME { 0.0 } else { 1.0 },
            r.price_log,
            history_log,
            knn_recent[k] * history_log,
            als[k] * history_log,
            has(Source::ItemKnn),
            has(Source::Als),
            has(Source::Content),
            if c.sources
                & (Source::Popular.bit() | Source::Trending.bit() | Source::NewArrivals.bit())
                != 0
            {
                1.0
            } else {
                0.0
            },
            hour_sin,
            hour_cos,
            if cat != NO_CATEGORY && cat == session_category {
                1.0
            } else {
                0.0
            },
            lift(0, cat),
            lift(1, cat),
            lift(2, cat),
            lift(3, cat),
            crate::search::strength(&moment.searched, c.item),
        ]);
    }
    out
}

/// Standardises in place to mean 0, deviation 1 (all zeros when the column is constant).
fn standardize(col: &mut [f32]) {
    if col.is_empty() {
        return;
    }
    let n = col.len() as f32;
    let mean = col.iter().sum::<f32>() / n;
    let var = col.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
    let sd = var.sqrt();
    for x in col.iter_mut() {
        *x = if sd > 1e-9 { (*x - mean) / sd } else { 0.0 };
    }
}
