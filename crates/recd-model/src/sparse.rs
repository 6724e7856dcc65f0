//! Mostly-zero vectors stored as their non-zeros: the content vectors.
//!
//! The content encoder hashes an item's few tokens into a 128-d vector; on the generated
//! 1M users × 100k items set an item has 8.9 non-zeros on average and 10 at most. Scored dense,
//! each row streams 512 bytes (8 cache lines) for nine products: a content query of the server
//! scans 8 lists of ~316 rows of its index (1.3 MB dense), and the ranker's features read one
//! more row per candidate. Here a row is its non-zeros padded to the widest row's count,
//! `(column, value)` pairs side by side: 80 bytes per row for that set, found at `row × width`
//! without an offset table, so the feature loop can prefetch it like a dense row.
//!
//! The products are summed in column order, which rounds differently from the dense kernels;
//! within one model every content score of a given kind goes through one of the two, chosen
//! once by [`SparseRows::of`].

use std::ops::Range;

/// Rows of a fixed `dim`, each stored as `width` `(column, value)` pairs (padding is
/// `(0, 0.0)`, which adds nothing).
#[derive(Debug, Clone)]
pub(crate) struct SparseRows {
    width: usize,
    entries: Vec<(u32, f32)>,
}

impl SparseRows {
    /// The rows of `dense` (row-major, `dim` wide) when their widest row has at most `dim / 8`
    /// non-zeros: a pair is twice a float, so that is a quarter of the dense bytes or less.
    /// `None` when the rows are denser (ALS factors, for one) or there are none.
    pub(crate) fn of(dense: &[f32], dim: usize) -> Option<Self> {
        if dim == 0 || dense.is_empty() || !dense.len().is_multiple_of(dim) {
            return None;
        }
        let nonzeros = |row: &[f32]| row.iter().filter(|v| **v != 0.0).count();
        let width = dense.chunks_exact(dim).map(nonzeros).max()?.max(1);
        if width > dim / 8 {
            return None;
        }
        let mut entries = Vec::with_capacity(dense.len() / dim * width);
        for row in dense.chunks_exact(dim) {
            let start = entries.len();
            entries.extend(
                row.iter()
                    .enumerate()
                    .filter(|(_, v)| **v != 0.0)
                    .map(|(c, &v)| (c as u32, v)),
            );
            entries.resize(start + width, (0, 0.0));
        }
        Some(Self { width, entries })
    }

    /// The non-zeros of row `r`.
    pub(crate) fn row(&self, r: usize) -> &[(u32, f32)] {
        &self.entries[r * self.width..(r + 1) * self.width]
    }

    /// `q · row r` (`q` is `dim` wide).
    #[inline]
    pub(crate) fn dot(&self, r: usize, q: &[f32]) -> f32 {
        self.row(r).iter().map(|&(c, v)| q[c as usize] * v).sum()
    }

    /// Appends `q · row r` for each row of `rows` to `out`.
    pub(crate) fn dots(&self, rows: Range<usize>, q: &[f32], out: &mut Vec<f32>) {
        out.extend(rows.map(|r| self.dot(r, q)));
    }

    /// The stored pairs (to back them with huge pages).
    pub(crate) fn entries(&self) -> &[(u32, f32)] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::dot;

    #[test]
    fn sparse_dots_equal_dense_ones_and_dense_rows_stay_dense() {
        let dim = 32;
        // Row r has non-zeros at columns r % 32 and (7 r) % 32; row 3 is all zero.
        let mut dense = vec![0f32; 10 * dim];
        for r in (0..10).filter(|&r| r != 3) {
            dense[r * dim + r % dim] = 0.5 + r as f32;
            dense[r * dim + (7 * r) % dim] -= 0.25 * r as f32;
        }
        let s = SparseRows::of(&dense, dim).expect("two non-zeros per row of 32 is sparse");
        assert_eq!(s.width, 2);
        let q: Vec<f32> = (0..dim).map(|c| (c as f32 * 0.37).sin()).collect();
        let mut all = Vec::new();
        s.dots(0..10, &q, &mut all);
        for (r, got) in all.iter().enumerate() {
            let want = dot(&q, &dense[r * dim..(r + 1) * dim]);
            assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "row {r}");
            assert_eq!(*got, s.dot(r, &q));
        }
        assert_eq!(s.dot(3, &q), 0.0);

        // Five non-zeros in one row of 32 (more than 32 / 8): dense is kept.
        dense[5 * dim..5 * dim + 5].fill(1.0);
        assert!(SparseRows::of(&dense, dim).is_none());
        assert!(SparseRows::of(&[], dim).is_none());
    }
}
