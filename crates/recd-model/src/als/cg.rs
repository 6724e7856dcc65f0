//! The per-row least-squares solve of implicit ALS, by conjugate gradient.
//!
//! For one user u (or, with the roles swapped, one item) with observed items i and stored
//! values r_ui, implicit ALS (Hu, Koren & Volinsky 2008) solves
//!
//! ```text
//! (YᵀY + λI + Σ_i (c_ui − 1)·y_i y_iᵀ) x_u = Σ_{i: r_ui > 0} c_ui·y_i
//! ```
//!
//! with c_ui = |α·r_ui|, exactly as `implicit` 0.7 does it (it scales the stored values by α
//! and treats the result as the confidence; a negative value means "disliked": preference 0
//! with confidence |α·r|). The matrix is never formed: each CG step applies YᵀY + λI (the
//! shared [`Gram`]) and the sparse correction row by row. Like `implicit`'s `use_cg`, training
//! runs a few steps (3) warm-started from the row's previous vector.
//!
//! Two things differ from `implicit`'s loop, without changing the result beyond rounding:
//! entries with c_ui = 1 (e.g. a single view at α = 1, the most common entry) add nothing to
//! the matrix, so the CG steps skip them instead of multiplying by zero; and the entries that
//! do matter are copied once into a contiguous scratch block, so the 3 CG steps read them from
//! cache instead of gathering rows from a matrix that may be hundreds of MB.

use crate::ModelError;
use crate::als::kernels::{Kernels, Portable, prefetch_row};
use crate::als::{Factors, Gram};

/// Rows whose weighted entries would need more scratch than this many floats are solved by
/// reading the other side's factors in place. 4 Mi floats (16 MiB per thread) covers all but
/// the most popular items of synth-large (1M users): below it, the 3 CG steps stream the
/// gathered block sequentially instead of making 3 more random passes over a 256 MB matrix,
/// which on synth-large's item side is where the time went. With the cap raised from 256 Ki
/// floats (and the trainer's per-thread scratch), `recd bench als` on synth-large, 2 threads,
/// went from fit_cpu_s 113 to 75.
const MAX_GATHER_FLOATS: usize = 4 << 20;

/// A residual this small (squared norm) means the row is solved; the same absolute threshold
/// as `implicit`, so both stop at the same point.
const CONVERGED_RS: f32 = 1e-20;

/// How many entries ahead the residual loop prefetches the other side's rows: about one
/// memory latency's worth of per-entry work at k = 64.
const PREFETCH_AHEAD: usize = 8;

/// Per-thread working memory of [`RowSolver::solve`]; reuse one per thread so the hot loop
/// does not allocate.
#[derive(Debug, Default, Clone)]
pub struct CgScratch {
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
    /// Rows y_i with c_ui ≠ 1, contiguous (only when they fit `MAX_GATHER_FLOATS`).
    gathered: Vec<f32>,
    /// Indices of those rows, in the same order.
    weighted_cols: Vec<u32>,
    /// Their weights c_ui − 1.
    weights: Vec<f32>,
}

impl CgScratch {
    /// Empty scratch; it grows to the largest row seen and stays there.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Everything one half-step's row solves share: the fixed side's factors, its [`Gram`]
/// matrix (YᵀY + λI), α and the CG step count.
#[derive(Debug, Clone, Copy)]
pub struct RowSolver<'a> {
    gram: &'a Gram,
    fixed: &'a Factors,
    alpha: f32,
    cg_steps: usize,
    fused: bool,
}

impl<'a> RowSolver<'a> {
    /// A solver against `fixed` (item factors when solving users); `gram` must be
    /// YᵀY + λI of `fixed`. Fails if the factor counts differ or α is not finite and > 0.
    pub fn new(
        gram: &'a Gram,
        fixed: &'a Factors,
        alpha: f32,
        cg_steps: usize,
    ) -> Result<Self, ModelError> {
        if gram.n_factors() != fixed.n_factors() {
            return Err(ModelError::Shape(format!(
                "Gram matrix has {} factors, the fixed side has {}",
                gram.n_factors(),
                fixed.n_factors()
            )));
        }
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(ModelError::InvalidValue {
                field: "alpha",
                reason: format!("must be a finite number > 0, got {alpha}"),
            });
        }
        Ok(Self {
            gram,
            fixed,
            alpha,
            cg_steps,
            fused: fma_available(),
        })
    }

    /// The same solver forced onto the portable kernels, so tests cover both builds.
    #[cfg(test)]
    pub(crate) fn with_portable_kernels(mut self) -> Self {
        self.fused = false;
        self
    }

    /// The factor count k.
    pub fn n_factors(&self) -> usize {
        self.fixed.n_factors()
    }

    /// Updates `x` (length k, the row's current vector: the warm start) towards the solution
    /// for a row whose observed entries are `cols` (indices into the fixed side) with stored
    /// values `values`. A row without entries gets the zero vector, as in `implicit`.
    ///
    /// Panics if `x.len() != k`, the slices differ in length or an index is out of range:
    /// this is the training hot path, fed from a validated CSR matrix. Callers holding
    /// outside input use [`crate::als::fold_in`], which validates first.
    pub fn solve(&self, cols: &[u32], values: &[f32], x: &mut [f32], scratch: &mut CgScratch) {
        assert_eq!(x.len(), self.n_factors(), "x must have k values");
        assert_eq!(cols.len(), values.len(), "one value per column");
        #[cfg(target_arch = "x86_64")]
        if self.fused {
            // SAFETY: `fused` is only true when the CPU reported avx2 and fma at construction.
            unsafe { solve_avx2_fma(self, cols, values, x, scratch) };
            return;
        }
        solve_with::<Portable>(self, cols, values, x, scratch);
    }

    /// The row's share of the ALS objective at `x`, λ‖x‖² included:
    /// Σ_i c_ui (p_ui − x·y_i)² over *all* i of the fixed side (unobserved ones count with
    /// c = 1, p = 0) + λ‖x‖². For diagnostics and tests, not the hot path.
    pub fn row_loss(&self, cols: &[u32], values: &[f32], x: &[f32]) -> f64 {
        let k = self.n_factors();
        let mut gx = vec![0.0f32; k];
        Portable::sym_mat_vec(self.gram.as_slice(), k, x, &mut gx);
        let mut loss = f64::from(Portable::dot(x, &gx));
        for (&col, &value) in cols.iter().zip(values) {
            let (target, weight) = self.target_and_weight(value);
            let score = f64::from(Portable::dot(self.fixed.row(col as usize), x));
            let c = f64::from(weight) + 1.0;
            loss += f64::from(weight) * score * score - 2.0 * f64::from(target) * score;
            if target > 0.0 {
                loss += c;
            }
        }
        loss
    }

    /// (c·p, c − 1) of a stored value: the right-hand-side coefficient and the matrix weight.
    #[inline(always)]
    fn target_and_weight(&self, value: f32) -> (f32, f32) {
        let confidence = self.alpha * value;
        if confidence > 0.0 {
            (confidence, confidence - 1.0)
        } else {
            (0.0, -confidence - 1.0)
        }
    }
}

/// Whether the AVX2+FMA build of the solve can run here (see `kernels.rs` for why it exists).
fn fma_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The solve compiled with AVX2 and FMA enabled; the generic body and its
/// `#[inline(always)]` kernels are instantiated here with fused multiply-adds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn solve_avx2_fma(
    solver: &RowSolver<'_>,
    cols: &[u32],
    values: &[f32],
    x: &mut [f32],
    scratch: &mut CgScratch,
) {
    solve_with::<crate::als::kernels::Avx2Fma>(solver, cols, values, x, scratch);
}

#[inline(always)]
fn solve_with<K: Kernels>(
    solver: &RowSolver<'_>,
    cols: &[u32],
    values: &[f32],
    x: &mut [f32],
    scratch: &mut CgScratch,
) {
    let k = solver.n_factors();
    if cols.is_empty() {
        x.fill(0.0);
        return;
    }
    let gram = solver.gram.as_slice();
    let fixed = solver.fixed.as_slice();
    let CgScratch {
        r,
        p,
        ap,
        gathered,
        weighted_cols,
        weights,
    } = scratch;
    r.resize(k, 0.0);
    p.resize(k, 0.0);
    ap.resize(k, 0.0);
    weighted_cols.clear();
    weights.clear();

    let row_of = |col: u32| &fixed[col as usize * k..col as usize * k + k];
    // Start loading the first rows of the other side now, so the misses overlap the G·x
    // product instead of stalling the loop below.
    for &col in cols.iter().take(PREFETCH_AHEAD) {
        prefetch_row(row_of(col));
    }
    // r = b − A·x, with b = Σ c·p·y_i and A = G + Σ (c − 1)·y_i y_iᵀ.
    K::sym_mat_vec(gram, k, x, r);
    for v in r.iter_mut() {
        *v = -*v;
    }
    // When even all entries would fit, copy weighted rows while they are hot in L1.
    let gather_inline = cols.len() * k <= MAX_GATHER_FLOATS;
    gathered.clear();
    for (j, (&col, &value)) in cols.iter().zip(values).enumerate() {
        if let Some(&ahead) = cols.get(j + PREFETCH_AHEAD) {
            prefetch_row(row_of(ahead));
        }
        let (target, weight) = solver.target_and_weight(value);
        let y = row_of(col);
        let mut coef = target;
        if weight != 0.0 {
            coef -= weight * K::dot(y, x);
            weighted_cols.push(col);
            weights.push(weight);
            if gather_inline {
                gathered.extend_from_slice(y);
            }
        }
        if coef != 0.0 {
            K::axpy(coef, y, r);
        }
    }
    let gather = weights.len() * k <= MAX_GATHER_FLOATS;
    if gather && !gather_inline {
        for &col in weighted_cols.iter() {
            gathered.extend_from_slice(row_of(col));
        }
    }

    p.copy_from_slice(r);
    let mut rs_old = K::dot(r, r);
    if rs_old < CONVERGED_RS {
        return;
    }
    for _ in 0..solver.cg_steps {
        // Ap = G·p + Σ (c − 1)(y_i·p)·y_i
        K::sym_mat_vec(gram, k, p, ap);
        if gather {
            for (y, &w) in gathered.chunks_exact(k).zip(weights.iter()) {
                K::axpy(w * K::dot(y, p), y, ap);
            }
        } else {
            for (j, (&col, &w)) in weighted_cols.iter().zip(weights.iter()).enumerate() {
                if let Some(&ahead) = weighted_cols.get(j + PREFETCH_AHEAD) {
                    prefetch_row(row_of(ahead));
                }
                let y = row_of(col);
                K::axpy(w * K::dot(y, p), y, ap);
            }
        }
        let step = rs_old / K::dot(p, ap);
        K::axpy(step, p, x);
        K::axpy(-step, ap, r);
        let rs_new = K::dot(r, r);
        if rs_new < CONVERGED_RS {
            break;
        }
        let beta = rs_new / rs_old;
        for (pi, &ri) in p.iter_mut().zip(r.iter()) {
            *pi = beta * *pi + ri;
        }
        rs_old = rs_new;
    }
}
