//! What an event means for the models: its signal (positive with a confidence, negative, or
//! none) under the confidence weights a model is trained with.
//!
//! One type for every layer: training weighs its examples with it, the trained model's
//! manifest carries the weights it was trained with, and the nearline fold-in, the feature
//! read-out and the online engine read them from there, so the speed and online layers cannot
//! drift from the model they serve. The feature store keeps raw events (kind, rating, dwell);
//! weights apply when they are read. [`counts_as_engagement`] is the one rule for what the
//! trending counters count, which are aggregated as events arrive.

use serde::{Deserialize, Serialize};

use crate::EventKind;

/// How much one event says about a user's interest in an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventWeights {
    /// A view.
    pub view: f32,
    /// A click.
    pub click: f32,
    /// An add-to-cart.
    pub add_to_cart: f32,
    /// A purchase.
    pub purchase: f32,
    /// A like.
    pub like: f32,
    /// A rating at or above this value is positive; below it, negative.
    pub rating_positive_from: f32,
    /// Confidence of a positive rating r: `rating_scale × (r − rating_positive_from + 1)`,
    /// so with the defaults 3 → 2, 4 → 4, 5 → 6.
    pub rating_scale: f32,
    /// A view or click whose dwell time is known and shorter than this, in ms, is disinterest
    /// (a glance, not a read), not interest; 0 turns the rule off. Events without a dwell
    /// time are not affected.
    pub short_dwell_ms: u32,
}

impl Default for EventWeights {
    fn default() -> Self {
        Self {
            view: 1.0,
            click: 2.0,
            add_to_cart: 4.0,
            purchase: 8.0,
            like: 4.0,
            rating_positive_from: 3.0,
            rating_scale: 2.0,
            short_dwell_ms: 5_000,
        }
    }
}

/// What an event means for training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// Interest with this confidence.
    Positive(f32),
    /// Disinterest (dislike, skip, low rating): never a positive, excluded from
    /// recommendations, and a negative for the ranker.
    Negative,
    /// Nothing about an item (search).
    None,
}

impl EventWeights {
    /// The signal of an event of `kind` with rating `value` and dwell time `dwell_ms`.
    pub fn signal(&self, kind: EventKind, value: Option<f32>, dwell_ms: Option<u32>) -> Signal {
        let glance = dwell_ms.is_some_and(|d| d < self.short_dwell_ms);
        match kind {
            EventKind::View | EventKind::Click if glance => Signal::Negative,
            EventKind::View => Signal::Positive(self.view),
            EventKind::Click => Signal::Positive(self.click),
            EventKind::AddToCart => Signal::Positive(self.add_to_cart),
            EventKind::Purchase => Signal::Positive(self.purchase),
            EventKind::Like => Signal::Positive(self.like),
            EventKind::Rating => match value {
                Some(r) if r >= self.rating_positive_from => {
                    Signal::Positive(self.rating_scale * (r - self.rating_positive_from + 1.0))
                }
                Some(_) => Signal::Negative,
                None => Signal::None,
            },
            EventKind::Dislike | EventKind::Skip => Signal::Negative,
            EventKind::Search => Signal::None,
        }
    }
}

impl Signal {
    /// The weight of the signal in a user's history (the pipeline's `UserState`), for
    /// trained and real-time history alike: a positive's confidence over the confidence that
    /// makes an item relevant (`[train] relevance_min_confidence`), -1 for a negative, none
    /// for no signal.
    pub fn history_weight(self, relevance_confidence: f32) -> Option<f32> {
        match self {
            Signal::Positive(c) => Some(c / relevance_confidence.max(f32::MIN_POSITIVE)),
            Signal::Negative => Some(-1.0),
            Signal::None => None,
        }
    }
}

/// Whether an event counts as engagement with its item for the trending counters: every item
/// event but a dislike, a skip or a search. (Counters are summed as events arrive, so this
/// rule cannot wait for a model's weights.)
pub fn counts_as_engagement(kind: EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Dislike | EventKind::Skip | EventKind::Search
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_map_to_confidences_and_negatives() {
        let w = EventWeights::default();
        let s = |kind, value| w.signal(kind, value, None);
        assert_eq!(s(EventKind::Rating, Some(5.0)), Signal::Positive(6.0));
        assert_eq!(s(EventKind::Rating, Some(3.0)), Signal::Positive(2.0));
        assert_eq!(s(EventKind::Rating, Some(2.5)), Signal::Negative);
        assert_eq!(s(EventKind::Rating, None), Signal::None);
        assert_eq!(s(EventKind::Skip, None), Signal::Negative);
        assert_eq!(s(EventKind::Dislike, None), Signal::Negative);
        assert_eq!(s(EventKind::Purchase, None), Signal::Positive(8.0));
        assert_eq!(s(EventKind::Search, None), Signal::None);
    }

    #[test]
    fn a_short_dwell_makes_a_view_or_click_a_negative() {
        let w = EventWeights::default();
        assert_eq!(
            w.signal(EventKind::View, None, Some(4_999)),
            Signal::Negative
        );
        assert_eq!(
            w.signal(EventKind::Click, None, Some(1_200)),
            Signal::Negative
        );
        assert_eq!(
            w.signal(EventKind::View, None, Some(5_000)),
            Signal::Positive(1.0)
        );
        assert_eq!(w.signal(EventKind::View, None, None), Signal::Positive(1.0));
        // A purchase is a purchase, however short the visit.
        assert_eq!(
            w.signal(EventKind::Purchase, None, Some(10)),
            Signal::Positive(8.0)
        );
        let off = EventWeights {
            short_dwell_ms: 0,
            ..w
        };
        assert_eq!(
            off.signal(EventKind::View, None, Some(10)),
            Signal::Positive(1.0)
        );
    }

    #[test]
    fn history_weights_scale_positives_and_mark_negatives() {
        assert_eq!(Signal::Positive(8.0).history_weight(4.0), Some(2.0));
        assert_eq!(Signal::Negative.history_weight(4.0), Some(-1.0));
        assert_eq!(Signal::None.history_weight(4.0), None);
        assert!(counts_as_engagement(EventKind::View));
        assert!(!counts_as_engagement(EventKind::Skip));
    }
}
