//! ALS factors fitted outside recd (the Spark job in `spark/`, `recd train --als-from`), used
//! in place of recd's own fit while everything else (item-kNN, popularity, content, ranker,
//! evaluation, gate) is built as usual.
//!
//! A factor set names its rows by external id, so it is placed on the model's rows here:
//! items without a vector get the zero vector (they are never an ALS candidate and score 0,
//! as an item nobody interacted with does), users without one are folded in from their
//! interactions against the given item factors with recd's own λ and α (the server's fold-in;
//! no positive interaction gives the zero vector).
//!
//! The factors must come from the very matrix recd would have fitted: before using a set in
//! place of a fit, its pair count and confidence sum are compared with recd's matrix of the
//! same stage, so a different lake, window or weight is an error instead of a quietly
//! different model.
//!
//! The ranker's head model (its examples are built on the head of each user's history and
//! labelled by the tail) keeps recd's own fit: a set fitted up to the hold-out cut has seen
//! every tail, item vectors included, and a ranker trained on such vectors learns to trust
//! ALS more than it deserves on the real hold-out (spark/README.md).

use std::collections::HashMap;

use rayon::prelude::*;
use recd_model::als::{Factors, Gram, fold_in};

use crate::als::AlsModel;
use crate::config::TrainConfig;
use crate::{Csr, TrainError};

/// One set of factors, rows named by external id.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorSet {
    /// The set's name in its source (`fit`, `full`), for messages.
    pub name: String,
    /// User id → row of `user_factors`.
    pub users: HashMap<String, u32>,
    /// User vectors.
    pub user_factors: Factors,
    /// Item id → row of `item_factors`.
    pub items: HashMap<String, u32>,
    /// Item vectors.
    pub item_factors: Factors,
    /// Number of (user, item) pairs of the matrix the set was fitted on.
    pub n_pairs: u64,
    /// Sum of that matrix's confidences (before α).
    pub confidence_sum: f64,
}

/// Factors fitted elsewhere for one training run.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalAls {
    /// Where they came from and with which parameters; stored in the model's manifest as
    /// `params.als_source`.
    pub source: serde_json::Value,
    /// Fitted on the events up to the hold-out cut: the evaluated model's.
    pub fit: FactorSet,
    /// Fitted on every event of the window: the published model's, when `refit_on_full`.
    pub full: Option<FactorSet>,
}

/// Where a model's ALS vectors come from.
#[derive(Debug, Clone, Copy)]
pub enum AlsSource<'a> {
    /// recd's own fit with `[train.als]`.
    Own,
    /// A set fitted on exactly this stage's matrix (checked).
    Given(&'a FactorSet),
}

/// The model's ALS vectors from `set`, on the rows of `user_ids` × `item_ids`.
pub fn place(
    set: &FactorSet,
    user_items: &Csr,
    user_ids: &[String],
    item_ids: &[String],
    config: &TrainConfig,
) -> Result<AlsModel, TrainError> {
    let k = set.item_factors.n_factors();
    if k != config.als.factors {
        return Err(TrainError::ExternalAls(format!(
            "the `{}` set has {k} factors but [train.als] factors is {}: the job was run with another configuration",
            set.name, config.als.factors
        )));
    }
    check_same_matrix(set, user_items)?;
    let mut item_factors = Factors::zeros(item_ids.len(), k);
    let mut n_items_given = 0usize;
    for (row, id) in item_ids.iter().enumerate() {
        if let Some(&r) = set.items.get(id) {
            item_factors
                .row_mut(row)
                .copy_from_slice(set.item_factors.row(r as usize));
            n_items_given += 1;
        }
    }
    let gram = Gram::compute(&item_factors, config.als.regularization)?;
    let rows: Vec<Result<(Vec<f32>, bool), TrainError>> = (0..user_ids.len())
        .into_par_iter()
        .map(|row| {
            if let Some(&r) = set.users.get(&user_ids[row]) {
                return Ok((set.user_factors.row(r as usize).to_vec(), true));
            }
            let (cols, values) = user_items.row(row);
            let x = fold_in(&item_factors, &gram, cols, values, config.als.alpha)?;
            Ok((x, false))
        })
        .collect();
    let mut data = Vec::with_capacity(user_ids.len() * k);
    let mut n_users_given = 0usize;
    for row in rows {
        let (x, given) = row?;
        data.extend_from_slice(&x);
        n_users_given += usize::from(given);
    }
    tracing::info!(
        set = set.name,
        users_given = n_users_given,
        users_folded_in = user_ids.len() - n_users_given,
        items_given = n_items_given,
        items_zero = item_ids.len() - n_items_given,
        "ALS vectors taken from the given factors"
    );
    Ok(AlsModel {
        user_factors: Factors::from_vec(user_ids.len(), k, data)?,
        item_factors,
    })
}

/// Relative difference tolerated between the confidence sums: the job sums in f64, recd in
/// f32 per pair.
const SUM_TOLERANCE: f64 = 1e-4;

fn check_same_matrix(set: &FactorSet, user_items: &Csr) -> Result<(), TrainError> {
    let (n, sum) = (user_items.nnz() as u64, user_items.values_sum());
    let close = (sum - set.confidence_sum).abs() <= SUM_TOLERANCE * sum.abs().max(1.0);
    if n == set.n_pairs && close {
        return Ok(());
    }
    Err(TrainError::ExternalAls(format!(
        "the `{}` set was fitted on {} (user, item) pairs with confidence sum {:.3}, but this training's matrix has {n} pairs with sum {sum:.3}: the lake, its window or the event weights differ from this training's (export the window it trains on, and give the job this configuration's `recd config show --json`)",
        set.name, set.n_pairs, set.confidence_sum
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CsrBuilder;

    fn set(k: usize) -> FactorSet {
        FactorSet {
            name: "fit".into(),
            users: HashMap::from([("a".to_string(), 0)]),
            user_factors: Factors::from_vec(1, k, vec![1.0; k]).unwrap(),
            items: HashMap::from([("x".to_string(), 0), ("y".to_string(), 1)]),
            item_factors: Factors::from_vec(2, k, (0..2 * k).map(|v| v as f32 * 0.1).collect())
                .unwrap(),
            n_pairs: 2,
            confidence_sum: 6.0,
        }
    }

    fn config(k: usize) -> TrainConfig {
        let mut c = TrainConfig::default();
        c.als.factors = k;
        c
    }

    /// Users a (given) and b (not in the set); items x, y (given) and z (not).
    fn matrix() -> Csr {
        let mut b = CsrBuilder::new();
        b.push(0, 0, 2.0).unwrap();
        b.push(1, 1, 4.0).unwrap();
        b.build_with_shape(2, 3).unwrap()
    }

    #[test]
    fn given_vectors_are_placed_missing_items_are_zero_missing_users_folded_in() {
        let (users, items) = (
            ["a", "b"].map(String::from),
            ["x", "y", "z"].map(String::from),
        );
        let s = set(2);
        let m = place(&s, &matrix(), &users, &items, &config(2)).unwrap();
        assert_eq!(m.user_factors.row(0), [1.0, 1.0]);
        assert_eq!(m.item_factors.row(0), s.item_factors.row(0));
        assert_eq!(m.item_factors.row(1), s.item_factors.row(1));
        assert_eq!(m.item_factors.row(2), [0.0, 0.0]);
        assert!(
            m.user_factors.row(1).iter().any(|v| *v != 0.0),
            "b is folded in"
        );
    }

    #[test]
    fn another_matrix_or_rank_is_refused() {
        let (users, items) = (
            ["a", "b"].map(String::from),
            ["x", "y", "z"].map(String::from),
        );
        let mut s = set(2);
        s.confidence_sum = 7.0;
        let err = place(&s, &matrix(), &users, &items, &config(2)).unwrap_err();
        assert!(err.to_string().contains("confidence sum 7.000"), "{err}");
        let err = place(&set(2), &matrix(), &users, &items, &config(3)).unwrap_err();
        assert!(err.to_string().contains("2 factors"), "{err}");
    }
}
