//! Lists computed once per model for users the model cannot personalise (cold start) and for
//! the deadline fallback: popular and trending overall and per category, and popular per
//! demographic segment (gender × age band) from the profiles in the catalog.
//!
//! Building them at load time (on the watcher's blocking thread) makes the cold path and the
//! fallback a lookup: the fallback must be cheap precisely when the server is too slow.

use std::collections::HashMap;

use crate::catalog::CatalogSource;
use recd_model::pipeline::top_n;
use recd_model::{Model, NO_CATEGORY};
use recd_types::Segment;

/// Length of each precomputed list.
const LIST_LEN: usize = 500;
/// A segment needs at least this many trained users before its list is trusted.
const MIN_SEGMENT_USERS: usize = 20;

/// Precomputed `(item row, score)` lists, best first; scores are in 0..=1 within a list.
#[derive(Debug, Clone, Default)]
pub struct Lists {
    /// Most popular items (available at training time).
    pub popular: Vec<(u32, f32)>,
    /// Most trending items.
    pub trending: Vec<(u32, f32)>,
    /// Popular per category index.
    pub popular_by_category: Vec<Vec<(u32, f32)>>,
    /// Trending per category index.
    pub trending_by_category: Vec<Vec<(u32, f32)>>,
    /// Popular per segment: share of the segment's users with a positive interaction.
    pub by_segment: HashMap<Segment, Vec<(u32, f32)>>,
}

/// The top of `values` among available items (optionally of one category), scaled so the
/// best is 1.
fn ranked(model: &Model, values: &[f32], category: Option<u32>) -> Vec<(u32, f32)> {
    let avail = &model.meta.available;
    let cats = &model.meta.category;
    let it = values
        .iter()
        .enumerate()
        .filter(|(i, v)| avail[*i] && **v > 0.0 && category.is_none_or(|c| cats[*i] == c))
        .map(|(i, v)| (i as u32, *v));
    scaled(top_n(it, LIST_LEN))
}

fn scaled(mut list: Vec<(u32, f32)>) -> Vec<(u32, f32)> {
    if let Some(&(_, best)) = list.first()
        && best > 0.0
    {
        list.iter_mut().for_each(|(_, s)| *s /= best);
    }
    list
}

impl Lists {
    /// Builds every list; profiles come from `catalog` (a failure to read them only
    /// loses the segment lists, and is logged).
    pub fn build(model: &Model, catalog: &dyn CatalogSource) -> Self {
        let n_cat = model.meta.categories.len() as u32;
        let mut res = Lists {
            popular: ranked(model, &model.popularity, None),
            trending: ranked(model, &model.trending, None),
            popular_by_category: (0..n_cat)
                .map(|c| ranked(model, &model.popularity, Some(c)))
                .collect(),
            trending_by_category: (0..n_cat)
                .map(|c| ranked(model, &model.trending, Some(c)))
                .collect(),
            by_segment: HashMap::new(),
        };
        match segments(model, catalog) {
            Ok(s) => res.by_segment = s,
            Err(e) => tracing::warn!(error = %e, "no segment lists: cannot read profiles"),
        }
        res
    }

    /// The fallback list for a context: popular in `category` if given, else overall.
    pub fn fallback(&self, category: Option<u32>) -> &[(u32, f32)] {
        match category.and_then(|c| self.popular_by_category.get(c as usize)) {
            Some(list) if !list.is_empty() => list,
            _ => &self.popular,
        }
    }
}

/// Per segment, the share of its trained users who interacted positively with each item.
fn segments(
    model: &Model,
    catalog: &dyn CatalogSource,
) -> Result<HashMap<Segment, Vec<(u32, f32)>>, recd_store::StoreError> {
    let n = model.n_items();
    let mut counts: HashMap<Segment, (usize, Vec<f32>)> = HashMap::new();
    catalog.for_each_user(&mut |user| {
        let (Some(seg), Some(row)) = (Segment::of(&user), model.users.get(user.id.as_str())) else {
            return;
        };
        let entry = counts.entry(seg).or_insert_with(|| (0, vec![0.0; n]));
        entry.0 += 1;
        let (items, weights) = model.history.row(row as usize);
        for (&i, &w) in items.iter().zip(weights) {
            if w > 0.0 {
                entry.1[i as usize] += 1.0;
            }
        }
    })?;
    Ok(counts
        .into_iter()
        .filter(|(_, (users, _))| *users >= MIN_SEGMENT_USERS)
        .map(|(seg, (users, mut c))| {
            c.iter_mut().for_each(|x| *x /= users as f32);
            let avail = &model.meta.available;
            let it = c
                .iter()
                .enumerate()
                .filter(|(i, v)| avail[*i] && **v > 0.0)
                .map(|(i, v)| (i as u32, *v));
            // Scaled like every list of the blend, so the most specific list weighs as meant.
            (seg, scaled(top_n(it, LIST_LEN)))
        })
        .collect())
}

/// The model's category index of a category name.
pub fn category_index(model: &Model, name: &str) -> Option<u32> {
    model
        .meta
        .categories
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name))
        .map(|c| c as u32)
}

/// The category name of an item row, if it has one.
pub fn category_name(model: &Model, item: u32) -> Option<&str> {
    let c = *model.meta.category.get(item as usize)?;
    (c != NO_CATEGORY).then(|| model.meta.categories[c as usize].as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_lists_start_at_one() {
        assert_eq!(scaled(vec![(3, 4.0), (1, 2.0)]), vec![(3, 1.0), (1, 0.5)]);
        assert!(scaled(Vec::new()).is_empty());
    }
}
