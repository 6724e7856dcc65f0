//! How the moment of a request shifts taste between categories: for each context key (a
//! device, a page, an hour of the day, a demographic segment), the log-lift of each category
//! among the positive interactions made in that context over its share among all of them.
//!
//! Learned at training from the same fields of the log that requests carry, stored as
//! `context_lift.json`, and read by the ranker's context features
//! ([`crate::pipeline::features`]). Category level rather than item level: a device or an hour
//! sees too few interactions per item to say anything about one item, but plenty per category.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// The kinds of context key, each a namespace of [`ContextLift`]'s keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextKind {
    /// The client's device class (`mobile`, `desktop`, ...).
    Device,
    /// The page or placement (`homepage`, `item_page`, ...).
    Page,
    /// The hour of the day, UTC (`0`..`23`).
    Hour,
    /// A demographic segment ([`recd_types::Segment::key`]).
    Segment,
}

impl ContextKind {
    /// The key of `value` in this namespace.
    pub fn key(self, value: &str) -> String {
        let prefix = match self {
            Self::Device => "device",
            Self::Page => "page",
            Self::Hour => "hour",
            Self::Segment => "segment",
        };
        format!("{prefix}:{value}")
    }
}

/// Per context key, a log-lift per category.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextLift {
    /// Categories per key (the model's category count).
    pub n_categories: usize,
    /// The keys, in row order.
    pub keys: Vec<String>,
    /// `keys.len() × n_categories`, row-major.
    pub lift: Vec<f32>,
    /// The segment keys the trained users belong to; `user_segment` indexes into it.
    #[serde(default)]
    pub segments: Vec<String>,
    /// Per trained user row, 1 + the index of their segment in `segments`, 0 for none (stored
    /// as `user_segment.arr`: a request then needs no profile read for it).
    #[serde(skip)]
    pub user_segment: Vec<u32>,
    /// Row of each key.
    #[serde(skip)]
    rows: HashMap<String, usize>,
}

/// Interactions a key needs before its lifts are kept: fewer say more about chance than about
/// the context.
pub const MIN_KEY_COUNT: f64 = 50.0;
/// Pseudo-interactions spread by the overall category shares: a category seen a few times in
/// a context is pulled towards no lift rather than taken at its raw share.
const PRIOR: f64 = 100.0;

impl ContextLift {
    /// Lifts from per-key category counts (`counts[key][category]`, any non-negative weights).
    /// Keys with less than [`MIN_KEY_COUNT`] in all are left out.
    pub fn from_counts(n_categories: usize, counts: &HashMap<String, Vec<f64>>) -> Self {
        let mut total = vec![0f64; n_categories];
        for row in counts.values() {
            for (t, c) in total.iter_mut().zip(row) {
                *t += c;
            }
        }
        let all: f64 = total.iter().sum();
        let mut keys: Vec<&String> = counts
            .iter()
            .filter(|(_, row)| row.iter().sum::<f64>() >= MIN_KEY_COUNT)
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        let mut lift = Vec::with_capacity(keys.len() * n_categories);
        for key in &keys {
            let row = &counts[*key];
            let n: f64 = row.iter().sum();
            for (c, &t) in total.iter().enumerate() {
                let share = t / all;
                let value = if share > 0.0 {
                    let in_key = (row.get(c).copied().unwrap_or(0.0) + PRIOR * share) / (n + PRIOR);
                    (in_key / share).ln() as f32
                } else {
                    0.0
                };
                lift.push(value);
            }
        }
        let mut res = Self {
            n_categories,
            keys: keys.into_iter().cloned().collect(),
            lift,
            ..Self::default()
        };
        res.index();
        res
    }

    /// Sets each trained user's segment from their key (`None`: no segment).
    pub fn set_user_segments<'a>(&mut self, keys: impl IntoIterator<Item = Option<&'a str>>) {
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut segments = Vec::new();
        self.user_segment = keys
            .into_iter()
            .map(|key| {
                key.map_or(0, |k| {
                    *index.entry(k).or_insert_with(|| {
                        segments.push(k.to_string());
                        segments.len() as u32
                    })
                })
            })
            .collect();
        self.segments = segments;
    }

    /// The segment key of trained user row `user`, if they have one.
    pub fn segment_of(&self, user: u32) -> Option<&str> {
        let k = (*self.user_segment.get(user as usize)?).checked_sub(1)?;
        self.segments.get(k as usize).map(String::as_str)
    }

    /// Checks the shape and builds the key index (after deserialising).
    pub fn prepare(&mut self, n_categories: usize) -> Result<(), ModelError> {
        if self.keys.is_empty() {
            self.n_categories = n_categories;
        }
        if self.n_categories != n_categories || self.lift.len() != self.keys.len() * n_categories {
            return Err(ModelError::Shape(
                "context_lift.json does not match the model's categories".into(),
            ));
        }
        if self
            .user_segment
            .iter()
            .any(|&s| s as usize > self.segments.len())
        {
            return Err(ModelError::Shape(
                "user_segment.arr names a segment context_lift.json does not list".into(),
            ));
        }
        self.index();
        Ok(())
    }

    fn index(&mut self) {
        self.rows = self
            .keys
            .iter()
            .enumerate()
            .map(|(r, k)| (k.clone(), r))
            .collect();
    }

    /// The lifts per category of `value` in `kind`, if the training data had enough of it.
    pub fn row(&self, kind: ContextKind, value: &str) -> Option<&[f32]> {
        let n = self.n_categories;
        self.rows
            .get(&kind.key(value))
            .map(|&r| &self.lift[r * n..(r + 1) * n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifts_say_which_categories_a_context_favours_and_skip_rare_keys() {
        let mut counts = HashMap::new();
        counts.insert(ContextKind::Device.key("tv"), vec![300.0, 100.0]);
        counts.insert(ContextKind::Device.key("mobile"), vec![100.0, 300.0]);
        counts.insert(ContextKind::Device.key("watch"), vec![10.0, 0.0]);
        let t = ContextLift::from_counts(2, &counts);
        let tv = t.row(ContextKind::Device, "tv").unwrap();
        assert!(tv[0] > 0.2 && tv[1] < -0.2, "{tv:?}");
        let mobile = t.row(ContextKind::Device, "mobile").unwrap();
        assert!(mobile[1] > 0.2 && mobile[0] < -0.2, "{mobile:?}");
        assert!(t.row(ContextKind::Device, "watch").is_none());
        assert!(t.row(ContextKind::Page, "tv").is_none());
        let json = serde_json::to_string(&t).unwrap();
        let mut back: ContextLift = serde_json::from_str(&json).unwrap();
        back.prepare(2).unwrap();
        assert_eq!(back.row(ContextKind::Device, "tv"), Some(tv));
        assert!(back.prepare(3).is_err());
    }

    #[test]
    fn users_keep_their_segment_by_row() {
        let mut t = ContextLift::default();
        t.set_user_segments([
            Some("female/18-24"),
            None,
            Some("male/55+"),
            Some("female/18-24"),
        ]);
        assert_eq!(t.segments, ["female/18-24", "male/55+"]);
        assert_eq!(t.segment_of(0), Some("female/18-24"));
        assert_eq!(t.segment_of(1), None);
        assert_eq!(t.segment_of(2), Some("male/55+"));
        assert_eq!(t.segment_of(3), Some("female/18-24"));
        assert_eq!(t.segment_of(9), None);
        t.user_segment[1] = 3;
        assert!(t.prepare(0).is_err());
    }
}
