//! What an event means for the models: its signal (positive with a confidence, negative, or
//! none) under the confidence weights a model is trained with.
//!
//! One type for every layer: training weighs its examples with it, the trained model's
//! manifest carries the weights it was trained with, and the nearline fold-in reads them from
//! there, so the speed layer cannot drift from the model it folds users into.

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
    /// The signal of an event of `kind` with rating `value`.
    pub fn signal(&self, kind: EventKind, value: Option<f32>) -> Signal {
        match kind {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_map_to_confidences_and_negatives() {
        let w = EventWeights::default();
        assert_eq!(
            w.signal(EventKind::Rating, Some(5.0)),
            Signal::Positive(6.0)
        );
        assert_eq!(
            w.signal(EventKind::Rating, Some(3.0)),
            Signal::Positive(2.0)
        );
        assert_eq!(w.signal(EventKind::Rating, Some(2.5)), Signal::Negative);
        assert_eq!(w.signal(EventKind::Skip, None), Signal::Negative);
        assert_eq!(w.signal(EventKind::Purchase, None), Signal::Positive(8.0));
        assert_eq!(w.signal(EventKind::Search, None), Signal::None);
    }
}
