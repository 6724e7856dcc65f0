//! Per-user real-time features and the one function that updates them from an event.

use std::collections::{BTreeMap, HashSet};

use recd_types::{Event, EventKind, EventWeights, ItemId, Signal, TimestampMs, UserId};
use serde::{Deserialize, Serialize};

use crate::{FeatureConfig, Offset};

/// A value with the time of the event that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamped<T> {
    /// The value.
    pub value: T,
    /// Event time, ms since the epoch.
    pub timestamp_ms: TimestampMs,
}

/// An item the user reacted badly to (derived from [`UserFeatures::recent_interactions`]
/// under a model's weights: [`UserFeatures::negatives`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NegativeItem {
    /// The item.
    pub item_id: ItemId,
    /// What the user did: a dislike, a skip, a low rating, or a glance (a view or click
    /// shorter than the weights' `short_dwell_ms`).
    pub reason: EventKind,
    /// Event time.
    pub timestamp_ms: TimestampMs,
}

/// One recent interaction with an item, kept raw: what it means (positive with a confidence,
/// negative, nothing) is decided when it is read, by the weights of the model that reads it
/// (`recd_types::EventWeights`, from the model's manifest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    /// The item.
    pub item_id: ItemId,
    /// What the user did.
    pub kind: EventKind,
    /// The rating, for rating events.
    pub value: Option<f32>,
    /// How long the user stayed, ms, when the client said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dwell_ms: Option<u32>,
    /// Event time.
    pub timestamp_ms: TimestampMs,
}

/// The user's current session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The client's session id; `None` for a session inferred from an inactivity gap.
    pub session_id: Option<String>,
    /// Time of the first event.
    pub started_ms: TimestampMs,
    /// Time of the newest event.
    pub last_event_ms: TimestampMs,
    /// Events in the session.
    pub n_events: u64,
    /// Category of the newest item event whose item has one.
    pub current_category: Option<String>,
    /// Distinct pages, newest first.
    pub pages: Vec<String>,
    /// Device of the newest event that named one.
    pub device: Option<String>,
}

/// A user vector folded in against a model's item factors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserVector {
    /// Version of the model whose item factors were used.
    pub model_version: String,
    /// The vector (the model's rank).
    pub values: Vec<f32>,
    /// Distinct items that entered the solve.
    pub n_items: u32,
    /// Time of the newest event taken into account.
    pub computed_at_ms: TimestampMs,
}

/// Everything the speed layer knows about one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserFeatures {
    /// Whose features.
    pub user_id: UserId,
    /// Last viewed items, newest first, each item once.
    pub recent_views: Vec<Stamped<ItemId>>,
    /// Last search queries, newest first, each query once.
    pub recent_queries: Vec<Stamped<String>>,
    /// The current session.
    pub session: Option<Session>,
    /// Events per type since the features were created.
    pub counts: BTreeMap<EventKind, u64>,
    /// Recent item interactions, newest first, raw (the fold-in, the negatives and the
    /// online engine weigh them when they read them).
    pub recent_interactions: Vec<Interaction>,
    /// Time of the newest event applied.
    pub last_event_ms: TimestampMs,
    /// Log offset of the newest event applied; events at or below it are skipped on replay.
    pub last_offset: Offset,
    /// The nearline folded-in vector.
    pub vector: Option<UserVector>,
}

impl UserFeatures {
    /// Empty features for `user_id`.
    pub fn new(user_id: UserId) -> Self {
        Self {
            user_id,
            recent_views: Vec::new(),
            recent_queries: Vec::new(),
            session: None,
            counts: BTreeMap::new(),
            recent_interactions: Vec::new(),
            last_event_ms: TimestampMs::MIN,
            last_offset: 0,
            vector: None,
        }
    }

    /// When these features expire unless a newer event arrives.
    pub fn expires_at_ms(&self, config: &FeatureConfig) -> TimestampMs {
        self.last_event_ms.saturating_add(config.user_ttl_ms())
    }

    /// True when the features have outlived their TTL at `now_ms`.
    pub fn is_expired(&self, now_ms: TimestampMs, config: &FeatureConfig) -> bool {
        self.expires_at_ms(config) <= now_ms
    }

    /// Items whose newest signal-bearing interaction is negative under `weights` (a dislike,
    /// a skip, a low rating, a glance), newest first, each item once: a later positive signal
    /// on the same item takes it off the list. Only the kept `recent_interactions` count.
    pub fn negatives(&self, weights: &EventWeights) -> Vec<NegativeItem> {
        let mut decided: HashSet<&ItemId> = HashSet::new();
        let mut out = Vec::new();
        for i in &self.recent_interactions {
            let signal = weights.signal(i.kind, i.value, i.dwell_ms);
            if signal == Signal::None || !decided.insert(&i.item_id) {
                continue;
            }
            if signal == Signal::Negative {
                out.push(NegativeItem {
                    item_id: i.item_id.clone(),
                    reason: i.kind,
                    timestamp_ms: i.timestamp_ms,
                });
            }
        }
        out
    }

    /// True when nothing has been applied yet.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Applies one event logged at `offset`. Returns false, changing nothing, when the event
    /// was already applied (its offset is not newer than [`UserFeatures::last_offset`]).
    /// `category` is the category of the event's item, if known.
    pub fn apply(
        &mut self,
        offset: Offset,
        event: &Event,
        category: Option<&str>,
        config: &FeatureConfig,
    ) -> bool {
        if !self.is_empty() && offset <= self.last_offset {
            return false;
        }
        self.last_offset = offset;
        self.last_event_ms = self.last_event_ms.max(event.timestamp_ms);
        *self.counts.entry(event.kind).or_insert(0) += 1;
        self.update_session(event, category, config);
        let ts = event.timestamp_ms;
        match (&event.item_id, event.kind) {
            (None, EventKind::Search) => {
                if let Some(q) = &event.query {
                    push_stamped(&mut self.recent_queries, q.trim().to_string(), ts);
                    self.recent_queries.truncate(config.recent_queries);
                }
            }
            (Some(item), kind) => self.apply_item_event(item, kind, event, config),
            (None, _) => {}
        }
        true
    }

    fn apply_item_event(
        &mut self,
        item: &ItemId,
        kind: EventKind,
        event: &Event,
        config: &FeatureConfig,
    ) {
        let ts = event.timestamp_ms;
        if kind == EventKind::View {
            push_stamped(&mut self.recent_views, item.clone(), ts);
            self.recent_views.truncate(config.recent_views);
        }
        let at = insertion_point(self.recent_interactions.iter().map(|i| i.timestamp_ms), ts);
        self.recent_interactions.insert(
            at,
            Interaction {
                item_id: item.clone(),
                kind,
                value: event.value,
                dwell_ms: event.dwell_ms,
                timestamp_ms: ts,
            },
        );
        self.recent_interactions
            .truncate(config.recent_interactions);
    }

    fn update_session(&mut self, event: &Event, category: Option<&str>, config: &FeatureConfig) {
        let gap_ms = config.session_gap_ms();
        let ts = event.timestamp_ms;
        let starts_new = self.session.as_ref().is_none_or(|s| {
            !recd_types::continues_session(
                s.session_id.as_deref(),
                s.last_event_ms,
                event.session_id.as_deref(),
                ts,
                gap_ms,
            )
        });
        if starts_new {
            self.session = Some(Session {
                session_id: event.session_id.clone(),
                started_ms: ts,
                last_event_ms: ts,
                n_events: 0,
                current_category: None,
                pages: Vec::new(),
                device: None,
            });
        }
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.n_events += 1;
        s.started_ms = s.started_ms.min(ts);
        s.last_event_ms = s.last_event_ms.max(ts);
        if let Some(c) = category {
            s.current_category = Some(c.to_string());
        }
        if let Some(d) = &event.context.device {
            s.device = Some(d.clone());
        }
        if let Some(p) = &event.context.page {
            s.pages.retain(|q| q != p);
            s.pages.insert(0, p.clone());
            s.pages.truncate(config.session_pages);
        }
    }
}

/// Index at which an entry stamped `ts` goes in a newest-first list: before every entry that
/// is not newer, so events arriving in log order with equal stamps still come out newest first.
fn insertion_point(stamps: impl Iterator<Item = TimestampMs>, ts: TimestampMs) -> usize {
    let mut at = 0;
    for (i, t) in stamps.enumerate() {
        if t <= ts {
            return i;
        }
        at = i + 1;
    }
    at
}

/// Puts `value` into a newest-first, deduplicated list, keeping the newer stamp of a repeat.
fn push_stamped<T: PartialEq>(list: &mut Vec<Stamped<T>>, value: T, ts: TimestampMs) {
    let mut ts = ts;
    if let Some(pos) = list.iter().position(|s| s.value == value) {
        ts = ts.max(list.remove(pos).timestamp_ms);
    }
    let at = insertion_point(list.iter().map(|s| s.timestamp_ms), ts);
    list.insert(
        at,
        Stamped {
            value,
            timestamp_ms: ts,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind, item: Option<&str>, ts: TimestampMs) -> Event {
        let mut e = Event::new(
            UserId::parse("u").unwrap(),
            item.map(|i| ItemId::parse(i).unwrap()),
            kind,
            ts,
        );
        if kind == EventKind::Search {
            e.query = Some("q".into());
        }
        e
    }

    fn views(f: &UserFeatures) -> Vec<&str> {
        f.recent_views.iter().map(|s| s.value.as_str()).collect()
    }

    #[test]
    fn views_are_newest_first_deduplicated_and_bounded() {
        let config = FeatureConfig::default();
        let mut f = UserFeatures::new(UserId::parse("u").unwrap());
        for (i, item) in ["a", "b", "c", "a", "d", "e", "f"].iter().enumerate() {
            assert!(f.apply(
                i as u64,
                &ev(EventKind::View, Some(item), 1000 + i as i64),
                None,
                &config
            ));
        }
        assert_eq!(views(&f), ["f", "e", "d", "a", "c"]);
        // A replayed offset changes nothing.
        assert!(!f.apply(3, &ev(EventKind::View, Some("zz"), 5000), None, &config));
        assert_eq!(views(&f), ["f", "e", "d", "a", "c"]);
    }

    #[test]
    fn a_late_event_lands_at_its_time_and_same_stamps_keep_log_order() {
        let config = FeatureConfig::default();
        let mut f = UserFeatures::new(UserId::parse("u").unwrap());
        f.apply(0, &ev(EventKind::View, Some("a"), 10), None, &config);
        f.apply(1, &ev(EventKind::View, Some("b"), 10), None, &config);
        f.apply(2, &ev(EventKind::View, Some("old"), 5), None, &config);
        assert_eq!(views(&f), ["b", "a", "old"]);
    }

    #[test]
    fn negatives_follow_the_weights_and_a_later_positive_clears_one() {
        let config = FeatureConfig::default();
        let weights = EventWeights::default();
        let mut f = UserFeatures::new(UserId::parse("u").unwrap());
        f.apply(0, &ev(EventKind::Dislike, Some("a"), 1), None, &config);
        let mut low = ev(EventKind::Rating, Some("b"), 2);
        low.value = Some(2.5);
        f.apply(1, &low, None, &config);
        let mut glance = ev(EventKind::View, Some("c"), 3);
        glance.dwell_ms = Some(800);
        f.apply(2, &glance, None, &config);
        let reasons = |f: &UserFeatures, w: &EventWeights| -> Vec<(String, EventKind)> {
            f.negatives(w)
                .into_iter()
                .map(|n| (n.item_id.as_str().to_string(), n.reason))
                .collect()
        };
        assert_eq!(
            reasons(&f, &weights),
            [
                ("c".to_string(), EventKind::View),
                ("b".to_string(), EventKind::Rating),
                ("a".to_string(), EventKind::Dislike)
            ]
        );
        // The store kept the raw events: other weights read them otherwise.
        let lenient = EventWeights {
            rating_positive_from: 2.0,
            short_dwell_ms: 0,
            ..EventWeights::default()
        };
        assert_eq!(
            reasons(&f, &lenient),
            [("a".to_string(), EventKind::Dislike)]
        );
        f.apply(3, &ev(EventKind::Like, Some("a"), 4), None, &config);
        assert_eq!(reasons(&f, &weights).len(), 2);
        assert_eq!(f.counts[&EventKind::Dislike], 1);
        assert_eq!(f.recent_interactions.len(), 4);
        assert_eq!(f.recent_interactions[1].dwell_ms, Some(800));
    }

    #[test]
    fn sessions_split_on_id_change_and_on_gaps() {
        let config = FeatureConfig::default();
        let gap = config.session_gap_secs as i64 * 1000;
        let mut f = UserFeatures::new(UserId::parse("u").unwrap());
        let mut e = ev(EventKind::View, Some("a"), 0);
        e.context.page = Some("home".into());
        f.apply(0, &e, Some("toys"), &config);
        f.apply(1, &ev(EventKind::Search, None, 10), None, &config);
        let s = f.session.clone().unwrap();
        assert_eq!(
            (s.n_events, s.current_category.as_deref()),
            (2, Some("toys"))
        );
        assert_eq!(s.pages, ["home"]);
        f.apply(
            2,
            &ev(EventKind::View, Some("b"), 10 + gap + 1),
            None,
            &config,
        );
        assert_eq!(f.session.as_ref().unwrap().n_events, 1);
        let mut other = ev(EventKind::View, Some("c"), 20 + gap);
        other.session_id = Some("s2".into());
        f.apply(3, &other, None, &config);
        let s = f.session.as_ref().unwrap();
        assert_eq!((s.session_id.as_deref(), s.n_events), (Some("s2"), 1));
        assert_eq!(f.recent_queries[0].value, "q");
    }
}
