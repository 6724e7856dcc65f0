//! Implicit-feedback ALS (Hu, Koren & Volinsky 2008) pieces shared by training and serving.
//!
//! - [`Factors`]: a row-major matrix of user or item vectors.
//! - [`Gram`]: YᵀY + λI of one side, computed once per half-step ([`accumulate_yty`] lets a
//!   trainer split that GEMM over threads).
//! - [`RowSolver`]: the conjugate-gradient solve of one row against the fixed side; the
//!   trainer calls it for every row, in parallel, with one [`CgScratch`] per thread.
//! - [`fold_in`]: the same solve for one new user, run to convergence, with input checks.

mod cg;
mod factors;
mod gram;
pub(crate) mod kernels;

pub use cg::{CgScratch, RowSolver};
pub use factors::Factors;
pub use gram::{Gram, accumulate_yty};
pub use kernels::prefetch;
pub(crate) use kernels::prefetch_row;

use crate::ModelError;

/// Computes a user vector from that user's interactions against fixed item factors: the
/// user half of an ALS iteration for one row, solved to convergence (CG from zero for up to
/// k steps, which is exact in exact arithmetic) rather than the 3 warm-started steps of
/// training, because there is no previous vector to start from.
///
/// `items[j]` is an item index into `item_factors` with stored value `values[j]` (the same
/// kind of value the model was trained on: summed event weights, or 1 per interaction);
/// `gram` must be [`Gram::compute`] of `item_factors` with the training λ, and `alpha` the
/// training α. No interactions give the zero vector.
pub fn fold_in(
    item_factors: &Factors,
    gram: &Gram,
    items: &[u32],
    values: &[f32],
    alpha: f32,
) -> Result<Vec<f32>, ModelError> {
    if items.len() != values.len() {
        return Err(ModelError::Shape(format!(
            "{} items but {} values",
            items.len(),
            values.len()
        )));
    }
    let n_items = item_factors.n_rows();
    if let Some(&index) = items.iter().find(|&&i| i as usize >= n_items) {
        return Err(ModelError::ItemOutOfRange { index, n_items });
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(ModelError::InvalidValue {
            field: "value",
            reason: format!("must be finite, got {v}"),
        });
    }
    let k = item_factors.n_factors();
    let solver = RowSolver::new(gram, item_factors, alpha, k)?;
    let mut x = vec![0.0f32; k];
    solver.solve(items, values, &mut x, &mut CgScratch::new());
    Ok(x)
}

#[cfg(test)]
mod tests;
