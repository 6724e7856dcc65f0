//! The part of applying a batch that every backend shares: grouping events by key and
//! running the pure update functions. Backends only load and store the states.

use std::collections::HashMap;

use recd_types::{ItemId, TimestampMs, UserId};

use crate::{
    Batch, FeatureConfig, FoldIn, LoggedEvent, TrendingItem, UserFeatures, Window, WindowCounters,
};

/// The batch's live events grouped by the state they touch, each group in log order.
pub(crate) struct Plan<'a> {
    pub users: Vec<(UserId, Vec<&'a LoggedEvent>)>,
    pub items: Vec<(ItemId, Vec<&'a LoggedEvent>)>,
    pub categories: Vec<(String, Vec<&'a LoggedEvent>)>,
}

/// Groups the events of `batch` that are still within the user TTL.
pub(crate) fn plan<'a>(batch: &'a Batch, config: &FeatureConfig) -> Plan<'a> {
    let oldest_live = batch.now_ms.saturating_sub(config.user_ttl_ms());
    let mut users = Grouper::default();
    let mut items = Grouper::default();
    let mut categories = Grouper::default();
    for e in &batch.events {
        if e.event.timestamp_ms <= oldest_live {
            metrics::counter!("recd_features_expired_events_skipped_total").increment(1);
            continue;
        }
        users.push(e.event.user_id.clone(), e);
        if let Some(item) = &e.event.item_id
            && counts_as_engagement(e)
        {
            items.push(item.clone(), e);
            if let Some(c) = &e.category {
                categories.push(c.clone(), e);
            }
        }
    }
    Plan {
        users: users.finish(),
        items: items.finish(),
        categories: categories.finish(),
    }
}

/// Trending counts engagement (`recd_types::counts_as_engagement`), except events flagged at
/// ingest (a bot's views must not make an item trend).
fn counts_as_engagement(e: &LoggedEvent) -> bool {
    e.event.is_trusted() && recd_types::counts_as_engagement(e.event.kind)
}

/// Applies a user's events to their stored state (dropped first if it expired) and folds in a
/// new vector if anything changed. Returns `None` when nothing changed.
pub(crate) fn apply_user(
    stored: Option<UserFeatures>,
    id: &UserId,
    events: &[&LoggedEvent],
    config: &FeatureConfig,
    fold: Option<&dyn FoldIn>,
    now_ms: TimestampMs,
) -> Option<UserFeatures> {
    let mut state = stored
        .filter(|s| !s.is_expired(now_ms, config))
        .unwrap_or_else(|| UserFeatures::new(id.clone()));
    let mut changed = false;
    for e in events {
        changed |= state.apply(e.offset, &e.event, e.category.as_deref(), config);
    }
    if !changed {
        return None;
    }
    if let Some(vector) = fold.and_then(|f| f.fold_in(&state)) {
        state.vector = Some(vector);
    }
    Some(state)
}

/// Applies events to an item's or a category's counters. Returns `None` when nothing changed.
pub(crate) fn apply_counters(
    stored: Option<WindowCounters>,
    events: &[&LoggedEvent],
    track_category: bool,
    partition: Option<u32>,
) -> Option<WindowCounters> {
    let mut state = stored.unwrap_or_default();
    let mut changed = false;
    for e in events {
        if state.add_from(partition, e.offset, e.event.timestamp_ms) {
            changed = true;
            if track_category && e.category.is_some() {
                state.category.clone_from(&e.category);
            }
        }
    }
    changed.then_some(state)
}

/// Sorts by count descending then key ascending, drops zeros and keeps `limit`.
pub(crate) fn top<K: Ord>(mut counts: Vec<(K, u64)>, limit: usize) -> Vec<(K, u64)> {
    counts.retain(|(_, n)| *n > 0);
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts.truncate(limit);
    counts
}

/// Turns `(item, count)` pairs into trending items.
pub(crate) fn trending_items(counts: Vec<(ItemId, u64)>) -> Vec<TrendingItem> {
    counts
        .into_iter()
        .map(|(item_id, count)| TrendingItem { item_id, count })
        .collect()
}

/// The window counts of an item's counters, for [`crate::ItemStats`].
pub(crate) fn both_counts(c: &WindowCounters, now_ms: TimestampMs) -> (u64, u64) {
    (c.count(Window::Hour, now_ms), c.count(Window::Day, now_ms))
}

/// Groups values by key, keeping first-appearance order of keys and log order within a key.
struct Grouper<'a, K> {
    index: HashMap<K, usize>,
    groups: Vec<(K, Vec<&'a LoggedEvent>)>,
}

impl<K> Default for Grouper<'_, K> {
    fn default() -> Self {
        Self {
            index: HashMap::new(),
            groups: Vec::new(),
        }
    }
}

impl<'a, K: std::hash::Hash + Eq + Clone> Grouper<'a, K> {
    fn push(&mut self, key: K, e: &'a LoggedEvent) {
        let next = self.groups.len();
        let i = *self.index.entry(key.clone()).or_insert(next);
        if i == next {
            self.groups.push((key, Vec::new()));
        }
        self.groups[i].1.push(e);
    }

    fn finish(self) -> Vec<(K, Vec<&'a LoggedEvent>)> {
        self.groups
    }
}
