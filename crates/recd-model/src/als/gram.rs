//! The Gram matrix YᵀY + λI that every row solve of one ALS half-step shares.

use crate::ModelError;
use crate::als::Factors;

/// YᵀY + λI for a factor matrix Y: symmetric k×k, stored in full, row-major.
///
/// Stored in full rather than as a triangle because the matrix-vector kernel then streams
/// contiguous rows; at k = 64 it is 16 KiB and stays in L1 during a row solve.
#[derive(Debug, Clone, PartialEq)]
pub struct Gram {
    n_factors: usize,
    regularization: f32,
    data: Vec<f32>,
}

impl Gram {
    /// Computes YᵀY + λI from `factors` on the calling thread.
    pub fn compute(factors: &Factors, regularization: f32) -> Result<Self, ModelError> {
        let k = factors.n_factors();
        let mut yty = vec![0.0f32; k * k];
        accumulate_yty(factors.as_slice(), k, &mut yty)?;
        Self::from_yty(k, yty, regularization)
    }

    /// Builds the matrix from a precomputed YᵀY (e.g. summed over row blocks by several
    /// threads with [`accumulate_yty`]) by adding λ on the diagonal.
    pub fn from_yty(
        n_factors: usize,
        mut yty: Vec<f32>,
        regularization: f32,
    ) -> Result<Self, ModelError> {
        if !(regularization.is_finite() && regularization >= 0.0) {
            return Err(ModelError::InvalidValue {
                field: "regularization",
                reason: format!("must be a finite number >= 0, got {regularization}"),
            });
        }
        if yty.len() != n_factors * n_factors {
            return Err(ModelError::Shape(format!(
                "YᵀY has {} values, expected {n_factors}²",
                yty.len()
            )));
        }
        for i in 0..n_factors {
            yty[i * n_factors + i] += regularization;
        }
        Ok(Self {
            n_factors,
            regularization,
            data: yty,
        })
    }

    /// k, the factor count.
    pub fn n_factors(&self) -> usize {
        self.n_factors
    }

    /// λ, already on the diagonal.
    pub fn regularization(&self) -> f32 {
        self.regularization
    }

    /// The k×k values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
}

/// out += RᵀR for `rows`, a row-major block of vectors of length `n_factors`; `out` is k×k.
///
/// Uses matrixmultiply's SGEMM (runtime-dispatched AVX/FMA kernels): a hand loop is several
/// times slower, and faer/gemm cost minutes of compile time for no gain at this size.
pub fn accumulate_yty(rows: &[f32], n_factors: usize, out: &mut [f32]) -> Result<(), ModelError> {
    let k = n_factors;
    // `k == 0` first: the remainder below would divide by zero.
    if k == 0 || rows.len() / k * k != rows.len() || out.len() != k * k {
        return Err(ModelError::Shape(format!(
            "accumulate_yty: {} values in rows and {} in out for {k} factors",
            rows.len(),
            out.len()
        )));
    }
    let n = rows.len() / k;
    if n == 0 {
        return Ok(());
    }
    let ki = k as isize;
    // SAFETY: A = Rᵀ is k×n with element (i, r) at rows[r*k + i] (row stride 1, column stride
    // k); B = R is n×k with element (r, j) at rows[r*k + j]; C is k×k row-major in `out`. Every
    // index stays inside `rows` (n*k values) and `out` (k*k values), checked above, and `out`
    // does not alias `rows` (one is borrowed mutably).
    unsafe {
        matrixmultiply::sgemm(
            k,
            n,
            k,
            1.0,
            rows.as_ptr(),
            1,
            ki,
            rows.as_ptr(),
            ki,
            1,
            1.0,
            out.as_mut_ptr(),
            ki,
            1,
        );
    }
    Ok(())
}
