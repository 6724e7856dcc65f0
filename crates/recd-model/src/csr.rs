//! A compressed sparse row matrix of `(column, value)` pairs: neighbour lists and histories.

use std::path::Path;

use crate::ModelError;
use crate::artifact::arrays;

/// Rows of `(u32, f32)` pairs stored contiguously.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Csr {
    offsets: Vec<u64>,
    cols: Vec<u32>,
    vals: Vec<f32>,
}

impl Csr {
    /// Backs the arrays with huge pages ([`crate::hugepages`]).
    pub(crate) fn advise_hugepages(&self) {
        crate::hugepages::advise(&self.offsets);
        crate::hugepages::advise(&self.cols);
        crate::hugepages::advise(&self.vals);
    }

    /// Builds from per-row lists.
    pub fn from_rows<I, R>(rows: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: IntoIterator<Item = (u32, f32)>,
    {
        let mut out = Csr {
            offsets: vec![0],
            cols: Vec::new(),
            vals: Vec::new(),
        };
        for row in rows {
            for (c, v) in row {
                out.cols.push(c);
                out.vals.push(v);
            }
            out.offsets.push(out.cols.len() as u64);
        }
        out
    }

    /// Builds from raw parts, checking that they agree and that columns are below `n_cols`.
    pub fn from_parts(
        offsets: Vec<u64>,
        cols: Vec<u32>,
        vals: Vec<f32>,
        n_cols: usize,
    ) -> Result<Self, ModelError> {
        let ok = !offsets.is_empty()
            && offsets[0] == 0
            && offsets.windows(2).all(|w| w[0] <= w[1])
            && *offsets.last().unwrap_or(&0) as usize == cols.len()
            && cols.len() == vals.len()
            && cols.iter().all(|&c| (c as usize) < n_cols);
        if !ok {
            return Err(ModelError::Shape("inconsistent sparse matrix parts".into()));
        }
        Ok(Csr {
            offsets,
            cols,
            vals,
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.cols.len()
    }

    /// Row `r` as parallel slices (empty for a row out of range).
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        if r + 1 >= self.offsets.len() {
            return (&[], &[]);
        }
        let (a, b) = (self.offsets[r] as usize, self.offsets[r + 1] as usize);
        (&self.cols[a..b], &self.vals[a..b])
    }

    /// Writes `<stem>.offsets.arr`, `<stem>.cols.arr`, `<stem>.vals.arr` in `dir`.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<(), ModelError> {
        arrays::write(
            &dir.join(format!("{stem}.offsets.arr")),
            &[self.offsets.len()],
            &self.offsets,
        )?;
        arrays::write(
            &dir.join(format!("{stem}.cols.arr")),
            &[self.cols.len()],
            &self.cols,
        )?;
        arrays::write(
            &dir.join(format!("{stem}.vals.arr")),
            &[self.vals.len()],
            &self.vals,
        )
    }

    /// Reads what [`Csr::write`] wrote; columns must be below `n_cols`.
    pub fn read(dir: &Path, stem: &str, n_cols: usize) -> Result<Self, ModelError> {
        let (_, offsets) = arrays::read::<u64>(&dir.join(format!("{stem}.offsets.arr")))?;
        let (_, cols) = arrays::read::<u32>(&dir.join(format!("{stem}.cols.arr")))?;
        let (_, vals) = arrays::read::<f32>(&dir.join(format!("{stem}.vals.arr")))?;
        Self::from_parts(offsets, cols, vals, n_cols)
            .map_err(|e| ModelError::Artifact(format!("{}/{stem}: {e}", dir.display())))
    }

    /// The transpose with `n_cols` rows (entries of each new row in ascending old-row order).
    pub fn transpose(&self, n_cols: usize) -> Csr {
        let mut counts = vec![0u64; n_cols + 1];
        for &c in &self.cols {
            counts[c as usize + 1] += 1;
        }
        for i in 0..n_cols {
            counts[i + 1] += counts[i];
        }
        let mut next = counts.clone();
        let mut cols = vec![0u32; self.nnz()];
        let mut vals = vec![0f32; self.nnz()];
        for r in 0..self.n_rows() {
            let (cs, vs) = self.row(r);
            for (&c, &v) in cs.iter().zip(vs) {
                let at = next[c as usize] as usize;
                cols[at] = r as u32;
                vals[at] = v;
                next[c as usize] += 1;
            }
        }
        Csr {
            offsets: counts,
            cols,
            vals,
        }
    }

    /// The transpose ([`Csr::transpose`]) with at most `keep` pairs per row, those of the
    /// largest values (ties: the lower column), in column order (0: every pair).
    pub fn reverse(&self, n_cols: usize, keep: usize) -> Csr {
        let all = self.transpose(n_cols);
        if keep == 0 || (0..all.n_rows()).all(|r| all.row(r).0.len() <= keep) {
            return all;
        }
        Csr::from_rows((0..all.n_rows()).map(|r| {
            let (cs, vs) = all.row(r);
            let mut pairs: Vec<(u32, f32)> = cs.iter().copied().zip(vs.iter().copied()).collect();
            if pairs.len() > keep {
                pairs.select_nth_unstable_by(keep - 1, |a, b| {
                    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
                });
                pairs.truncate(keep);
                pairs.sort_unstable_by_key(|p| p.0);
            }
            pairs
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_keeps_the_largest_values_of_each_transposed_row_in_column_order() {
        // Column 0 is the neighbour of rows 0..5 with values 0.1, 0.5, 0.3, 0.5, 0.2.
        let m = Csr::from_rows([
            vec![(0, 0.1), (1, 1.0)],
            vec![(0, 0.5)],
            vec![(0, 0.3), (1, 0.2)],
            vec![(0, 0.5)],
            vec![(0, 0.2)],
        ]);
        let all = m.reverse(2, 0);
        assert_eq!(all, m.transpose(2));
        let top = m.reverse(2, 3);
        // The two 0.5s and the 0.3, by row; column 1's two pairs fit.
        assert_eq!(top.row(0), (&[1u32, 2, 3][..], &[0.5f32, 0.3, 0.5][..]));
        assert_eq!(top.row(1), all.row(1));
        let ties = m.reverse(2, 1);
        assert_eq!(
            ties.row(0),
            (&[1u32][..], &[0.5f32][..]),
            "a tie goes to the lower row"
        );
    }

    #[test]
    fn transpose_and_io() {
        let m = Csr::from_rows(vec![vec![(1, 0.5), (2, 1.0)], vec![], vec![(0, 2.0)]]);
        let t = m.transpose(3);
        assert_eq!(t.row(0), (&[2u32][..], &[2.0f32][..]));
        assert_eq!(t.row(1), (&[0u32][..], &[0.5f32][..]));
        assert_eq!(t.transpose(3), m);
        let dir = tempfile::tempdir().unwrap();
        m.write(dir.path(), "knn").unwrap();
        assert_eq!(Csr::read(dir.path(), "knn", 3).unwrap(), m);
        assert!(
            Csr::read(dir.path(), "knn", 2).is_err(),
            "columns are bounds-checked"
        );
    }
}
