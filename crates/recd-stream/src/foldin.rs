//! Nearline fold-in: a user vector from recent interactions against the current item factors.
//!
//! This is what makes a brand-new user personal after a few events (seed 002's nearline
//! computation): the ALS user half-step for one row, solved against the item factors of the
//! model being served, with the same confidence weights as training. The solve itself is
//! `recd_model::als::fold_in`, the very code training runs, so a folded-in user is what the
//! next training would have computed for the same interactions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use recd_features::{FoldIn, UserFeatures, UserVector};
use recd_model::als::{Factors, Gram};
use recd_types::{EventWeights, ItemId, Signal, TimestampMs, UserId};

use crate::FoldInConfig;

/// The item side of a trained model, as the fold-in needs it.
pub struct ItemFactors {
    /// Version of the model these factors belong to (kept with each folded vector).
    pub model_version: String,
    /// Newest event time the model was trained on: a trained user with no event after it
    /// keeps the trained vector, and gets no fold-in.
    pub trained_until_ms: TimestampMs,
    /// Row of each item in `factors`.
    pub item_index: HashMap<ItemId, u32>,
    /// Item factors, one row per item.
    pub factors: Factors,
    /// YᵀY + λI of `factors` with the training λ.
    pub gram: Gram,
    /// The training confidence scale α.
    pub alpha: f32,
    /// Users the model has a trained vector for.
    pub trained_users: HashSet<UserId>,
    /// The confidence weights the model was trained with.
    pub weights: EventWeights,
}

/// Supplies the item factors of the model currently served, if any. The batch layer swaps
/// models in; tests build factors by hand.
pub trait FactorSource: Send + Sync {
    /// The current factors, or `None` while no model is loaded.
    fn current(&self) -> Option<Arc<ItemFactors>>;
}

/// A [`FactorSource`] whose factors are replaced by [`SharedFactors::set`]. Readers clone an
/// `Arc` under a read lock held for nanoseconds, so a swap never waits on a solve.
#[derive(Default)]
pub struct SharedFactors(RwLock<Option<Arc<ItemFactors>>>);

impl SharedFactors {
    /// Installs new factors (or removes them with `None`).
    pub fn set(&self, factors: Option<ItemFactors>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = factors.map(Arc::new);
    }
}

impl FactorSource for SharedFactors {
    fn current(&self) -> Option<Arc<ItemFactors>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The [`FoldIn`] the updater hands to the feature store.
pub struct AlsFoldIn {
    source: Arc<dyn FactorSource>,
    config: FoldInConfig,
}

impl AlsFoldIn {
    /// A fold-in against whatever `source` currently holds.
    pub fn new(source: Arc<dyn FactorSource>, config: FoldInConfig) -> Self {
        Self { source, config }
    }

    /// Summed weights per factor row of the user's recent positive interactions with items
    /// the model knows, leaving out items the user has since reacted badly to.
    fn values(&self, user: &UserFeatures, model: &ItemFactors) -> BTreeMap<u32, f32> {
        let negatives = user.negatives(&model.weights);
        let negative: HashSet<&ItemId> = negatives.iter().map(|n| &n.item_id).collect();
        let mut values = BTreeMap::new();
        for i in &user.recent_interactions {
            if negative.contains(&i.item_id) {
                continue;
            }
            // Negatives are left out, as training leaves them out of ALS.
            let (Signal::Positive(w), Some(&row)) = (
                model.weights.signal(i.kind, i.value, i.dwell_ms),
                model.item_index.get(&i.item_id),
            ) else {
                continue;
            };
            *values.entry(row).or_insert(0.0) += w;
        }
        values.retain(|_, v| *v > 0.0);
        values
    }
}

impl FoldIn for AlsFoldIn {
    fn fold_in(&self, user: &UserFeatures) -> Option<UserVector> {
        if !self.config.enabled {
            return None;
        }
        let model = self.source.current()?;
        let trained_and_current = model.trained_users.contains(&user.user_id)
            && user.last_event_ms <= model.trained_until_ms;
        if trained_and_current {
            return None;
        }
        let values = self.values(user, &model);
        if values.is_empty() {
            return None;
        }
        let (rows, weights): (Vec<u32>, Vec<f32>) = values.into_iter().unzip();
        match recd_model::als::fold_in(&model.factors, &model.gram, &rows, &weights, model.alpha) {
            Ok(values) => {
                metrics::counter!("recd_stream_fold_ins_total").increment(1);
                Some(UserVector {
                    model_version: model.model_version.clone(),
                    values,
                    n_items: rows.len() as u32,
                    computed_at_ms: user.last_event_ms,
                })
            }
            Err(e) => {
                // Only a model whose parts disagree gets here; the user keeps their old vector.
                tracing::warn!(user = %user.user_id, error = %e, "fold-in failed");
                None
            }
        }
    }
}
