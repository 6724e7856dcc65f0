//! A dense matrix of factor vectors, one row per user or item.

use crate::ModelError;

/// `n_rows` vectors of `n_factors` f32 each, stored row-major in one allocation so a row is a
/// contiguous slice (the CG kernels and the Gram GEMM read them as such).
#[derive(Debug, Clone, PartialEq)]
pub struct Factors {
    n_rows: usize,
    n_factors: usize,
    data: Vec<f32>,
}

impl Factors {
    /// All-zero factors.
    pub fn zeros(n_rows: usize, n_factors: usize) -> Self {
        Self {
            n_rows,
            n_factors,
            data: vec![0.0; n_rows * n_factors],
        }
    }

    /// Wraps row-major data; fails unless `data.len() == n_rows * n_factors` and every value
    /// is finite (a NaN in a factor would poison every score computed from it).
    pub fn from_vec(n_rows: usize, n_factors: usize, data: Vec<f32>) -> Result<Self, ModelError> {
        if n_factors == 0 {
            return Err(ModelError::InvalidValue {
                field: "factors",
                reason: "must be at least 1".into(),
            });
        }
        if Some(data.len()) != n_rows.checked_mul(n_factors) {
            return Err(ModelError::Shape(format!(
                "{} values do not make {n_rows} rows of {n_factors} factors",
                data.len()
            )));
        }
        if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::InvalidValue {
                field: "factors",
                reason: format!(
                    "row {} holds a non-finite value {}",
                    pos / n_factors,
                    data[pos]
                ),
            });
        }
        Ok(Self {
            n_rows,
            n_factors,
            data,
        })
    }

    /// Number of rows (users or items).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Length of each vector.
    pub fn n_factors(&self) -> usize {
        self.n_factors
    }

    /// Row `idx`, or `None` past the end.
    pub fn get(&self, idx: usize) -> Option<&[f32]> {
        let start = idx.checked_mul(self.n_factors)?;
        self.data.get(start..start + self.n_factors)
    }

    /// Row `idx`. Panics past the end: for indices the caller has already validated (e.g.
    /// from a CSR matrix built against this model); use [`Factors::get`] otherwise.
    pub fn row(&self, idx: usize) -> &[f32] {
        &self.data[idx * self.n_factors..(idx + 1) * self.n_factors]
    }

    /// Row `idx`, mutable. Panics past the end, like [`Factors::row`].
    pub fn row_mut(&mut self, idx: usize) -> &mut [f32] {
        &mut self.data[idx * self.n_factors..(idx + 1) * self.n_factors]
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// All values, row-major, mutable (for solvers that update rows in parallel).
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// The row-major values.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }
}
