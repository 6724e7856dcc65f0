//! The sparse interaction matrix (compressed sparse rows) and its builder.
//!
//! Sized for tens of millions of interactions: u32 column indices and f32 values (8 bytes
//! per entry), built by a counting sort on the row index rather than a global sort of
//! (row, col, value) tuples, duplicates summed per row in parallel, and the transpose (the
//! item side of ALS) made by a second counting sort that needs no sorting at all.

use crate::TrainError;

/// A sparse `n_rows × n_cols` matrix: row `r` holds columns `indices[indptr[r]..indptr[r+1]]`
/// (strictly increasing) with values `values[..]` at the same positions. Invariants are
/// checked on construction; no explicit zero is dropped (a stored 0 is a real interaction
/// with zero weight, as in scipy).
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    n_rows: usize,
    n_cols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl Csr {
    /// Wraps CSR arrays after checking every invariant (monotone `indptr` ending at the
    /// number of entries, columns in range and strictly increasing per row, finite values).
    pub fn from_parts(
        n_rows: usize,
        n_cols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        values: Vec<f32>,
    ) -> Result<Self, TrainError> {
        if indptr.len() != n_rows + 1 || indptr[0] != 0 || indptr[n_rows] != indices.len() {
            return Err(TrainError::invalid(
                "indptr",
                "must have n_rows + 1 offsets from 0 to the entry count",
            ));
        }
        if values.len() != indices.len() {
            return Err(TrainError::invalid(
                "values",
                "must have one value per index",
            ));
        }
        for (row, w) in indptr.windows(2).enumerate() {
            if w[0] > w[1] {
                return Err(TrainError::invalid(
                    "indptr",
                    format!("decreases at row {row}"),
                ));
            }
            let cols = &indices[w[0]..w[1]];
            if cols.windows(2).any(|c| c[0] >= c[1]) {
                return Err(TrainError::invalid(
                    "indices",
                    format!("row {row} is not strictly increasing"),
                ));
            }
            if let Some(&c) = cols.last().filter(|&&c| c as usize >= n_cols) {
                return Err(TrainError::invalid(
                    "indices",
                    format!("column {c} in row {row} is not below n_cols = {n_cols}"),
                ));
            }
        }
        check_finite(&values)?;
        Ok(Self {
            n_rows,
            n_cols,
            indptr,
            indices,
            values,
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Columns and values of row `row`. Panics if `row >= n_rows`.
    pub fn row(&self, row: usize) -> (&[u32], &[f32]) {
        let (start, end) = (self.indptr[row], self.indptr[row + 1]);
        (&self.indices[start..end], &self.values[start..end])
    }

    /// Row offsets (`n_rows + 1` of them).
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }

    /// Column index of every entry, row after row.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// Value of every entry, row after row.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Sum of all values, in f64 (the checksum the ALS benchmark compares across tools).
    pub fn values_sum(&self) -> f64 {
        self.values.iter().map(|&v| f64::from(v)).sum()
    }

    /// The transposed matrix (`n_cols × n_rows`), e.g. item × user from user × item.
    ///
    /// A counting sort on the column: scanning rows in order leaves every output row sorted,
    /// so it is O(nnz) with two passes and no comparison sort.
    pub fn transpose(&self) -> Csr {
        let mut indptr = vec![0usize; self.n_cols + 1];
        for &c in &self.indices {
            indptr[c as usize + 1] += 1;
        }
        prefix_sum(&mut indptr);
        let mut cursor = indptr[..self.n_cols].to_vec();
        let mut indices = vec![0u32; self.nnz()];
        let mut values = vec![0f32; self.nnz()];
        for row in 0..self.n_rows {
            let (cols, vals) = self.row(row);
            for (&c, &v) in cols.iter().zip(vals) {
                let pos = &mut cursor[c as usize];
                indices[*pos] = row as u32;
                values[*pos] = v;
                *pos += 1;
            }
        }
        Csr {
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            indptr,
            indices,
            values,
        }
    }
}

/// Collects (row, column, value) triplets in any order and builds a [`Csr`], summing the
/// values of repeated (row, column) pairs (e.g. several events of one user on one item).
#[derive(Debug, Default, Clone)]
pub struct CsrBuilder {
    rows: Vec<u32>,
    cols: Vec<u32>,
    values: Vec<f32>,
    max_row: Option<u32>,
    max_col: Option<u32>,
}

impl CsrBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty builder with room for `n` triplets (saves regrowth when the count is known).
    pub fn with_capacity(n: usize) -> Self {
        Self {
            rows: Vec::with_capacity(n),
            cols: Vec::with_capacity(n),
            values: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    /// Number of triplets pushed so far (before duplicates are summed).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds one triplet. Fails on a non-finite value, which would poison the whole fit.
    #[inline]
    pub fn push(&mut self, row: u32, col: u32, value: f32) -> Result<(), TrainError> {
        if !value.is_finite() {
            return Err(TrainError::invalid(
                "value",
                format!("must be finite, got {value} at row {row}, column {col}"),
            ));
        }
        self.rows.push(row);
        self.cols.push(col);
        self.values.push(value);
        self.max_row = self.max_row.max(Some(row));
        self.max_col = self.max_col.max(Some(col));
        Ok(())
    }

    /// Moves every triplet of `other` into this builder (for parsers that fill one builder
    /// per thread and merge them in input order).
    pub fn append(&mut self, other: &mut CsrBuilder) {
        self.rows.append(&mut other.rows);
        self.cols.append(&mut other.cols);
        self.values.append(&mut other.values);
        self.max_row = self.max_row.max(other.max_row.take());
        self.max_col = self.max_col.max(other.max_col.take());
    }

    /// Builds the smallest matrix that holds every triplet: `(max row + 1) × (max col + 1)`.
    pub fn build(self) -> Csr {
        let n_rows = self.max_row.map_or(0, |r| r as usize + 1);
        let n_cols = self.max_col.map_or(0, |c| c as usize + 1);
        self.build_unchecked(n_rows, n_cols)
    }

    /// Builds an `n_rows × n_cols` matrix (room for rows and columns without entries, e.g.
    /// items nobody touched); fails if a triplet lies outside.
    pub fn build_with_shape(self, n_rows: usize, n_cols: usize) -> Result<Csr, TrainError> {
        if let Some(r) = self.max_row.filter(|&r| r as usize >= n_rows) {
            return Err(TrainError::invalid(
                "row",
                format!("index {r} is not below n_rows = {n_rows}"),
            ));
        }
        if let Some(c) = self.max_col.filter(|&c| c as usize >= n_cols) {
            return Err(TrainError::invalid(
                "col",
                format!("index {c} is not below n_cols = {n_cols}"),
            ));
        }
        Ok(self.build_unchecked(n_rows, n_cols))
    }

    fn build_unchecked(self, n_rows: usize, n_cols: usize) -> Csr {
        let CsrBuilder {
            rows, cols, values, ..
        } = self;
        let n = rows.len();
        let mut indptr = vec![0usize; n_rows + 1];
        for &r in &rows {
            indptr[r as usize + 1] += 1;
        }
        prefix_sum(&mut indptr);
        let mut cursor = indptr[..n_rows].to_vec();
        let mut out_cols = vec![0u32; n];
        let mut out_values = vec![0f32; n];
        for ((&r, &c), &v) in rows.iter().zip(&cols).zip(&values) {
            let pos = &mut cursor[r as usize];
            out_cols[*pos] = c;
            out_values[*pos] = v;
            *pos += 1;
        }
        // The triplets are 12 bytes per entry; free them before the next phase.
        drop((rows, cols, values, cursor));

        let mut lens = vec![0usize; n_rows];
        sort_rows(&indptr, &mut out_cols, &mut out_values, &mut lens);
        compact(&mut indptr, &mut out_cols, &mut out_values, &lens);
        Csr {
            n_rows,
            n_cols,
            indptr,
            indices: out_cols,
            values: out_values,
        }
    }
}

fn check_finite(values: &[f32]) -> Result<(), TrainError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(pos) => Err(TrainError::invalid(
            "values",
            format!("entry {pos} is not finite ({})", values[pos]),
        )),
        None => Ok(()),
    }
}

/// Turns per-slot counts (slot 0 = 0) into offsets, in place.
fn prefix_sum(counts: &mut [usize]) {
    for i in 1..counts.len() {
        counts[i] += counts[i - 1];
    }
}

/// Below this many entries a block of rows is sorted on one thread: forking costs more.
const SORT_GRAIN: usize = 1 << 15;

/// Sorts every row by column and sums duplicates, writing each row's new length to `lens`.
/// `indptr` holds absolute offsets for the rows of this block (`lens.len() + 1` of them) and
/// `cols`/`values` exactly this block's entries. Splits at the entry midpoint so heavy rows
/// do not leave one thread with most of the work.
fn sort_rows(indptr: &[usize], cols: &mut [u32], values: &mut [f32], lens: &mut [usize]) {
    let n_rows = lens.len();
    let base = indptr[0];
    let total = indptr[n_rows] - base;
    if n_rows <= 1 || total <= SORT_GRAIN {
        let mut scratch = Vec::new();
        for row in 0..n_rows {
            let (start, end) = (indptr[row] - base, indptr[row + 1] - base);
            lens[row] =
                sort_merge_row(&mut cols[start..end], &mut values[start..end], &mut scratch);
        }
        return;
    }
    let mid = indptr
        .partition_point(|&o| o - base <= total / 2)
        .clamp(1, n_rows - 1);
    let split = indptr[mid] - base;
    let (cols_a, cols_b) = cols.split_at_mut(split);
    let (values_a, values_b) = values.split_at_mut(split);
    let (lens_a, lens_b) = lens.split_at_mut(mid);
    rayon::join(
        || sort_rows(&indptr[..=mid], cols_a, values_a, lens_a),
        || sort_rows(&indptr[mid..], cols_b, values_b, lens_b),
    );
}

/// Sorts one row by column, sums repeated columns and moves the result to the front;
/// returns the new length.
fn sort_merge_row(cols: &mut [u32], values: &mut [f32], scratch: &mut Vec<(u32, f32)>) -> usize {
    if cols.windows(2).all(|w| w[0] < w[1]) {
        return cols.len();
    }
    scratch.clear();
    scratch.extend(cols.iter().copied().zip(values.iter().copied()));
    scratch.sort_unstable_by_key(|&(c, _)| c);
    let mut len = 0;
    for &(c, v) in scratch.iter() {
        if len > 0 && cols[len - 1] == c {
            values[len - 1] += v;
        } else {
            cols[len] = c;
            values[len] = v;
            len += 1;
        }
    }
    len
}

/// Closes the gaps duplicates left: moves each row to its new offset (never later than the
/// old one, so a forward pass is safe) and rewrites `indptr`.
fn compact(indptr: &mut [usize], cols: &mut Vec<u32>, values: &mut Vec<f32>, lens: &[usize]) {
    let mut write = 0;
    for (row, &len) in lens.iter().enumerate() {
        let read = indptr[row];
        if read != write {
            cols.copy_within(read..read + len, write);
            values.copy_within(read..read + len, write);
        }
        indptr[row] = write;
        write += len;
    }
    if let Some(last) = indptr.last_mut() {
        *last = write;
    }
    if write < cols.len() {
        cols.truncate(write);
        values.truncate(write);
        cols.shrink_to_fit();
        values.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(triplets: &[(u32, u32, f32)]) -> Csr {
        let mut b = CsrBuilder::new();
        for &(r, c, v) in triplets {
            b.push(r, c, v).unwrap();
        }
        b.build()
    }

    #[test]
    fn duplicates_are_summed_and_rows_sorted() {
        let m = build(&[
            (1, 3, 1.0),
            (0, 2, 2.0),
            (1, 0, 4.0),
            (1, 3, 8.0),
            (0, 2, 1.0),
        ]);
        assert_eq!((m.n_rows(), m.n_cols(), m.nnz()), (2, 4, 3));
        assert_eq!(m.row(0), (&[2u32][..], &[3.0f32][..]));
        assert_eq!(m.row(1), (&[0u32, 3][..], &[4.0f32, 9.0][..]));
        assert_eq!(m.values_sum(), 16.0);
    }

    #[test]
    fn big_random_input_matches_a_map_reference() {
        // Enough entries to take the parallel split path and the compaction moves.
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            (state >> 33) as u32
        };
        let mut reference = std::collections::BTreeMap::new();
        let mut b = CsrBuilder::new();
        for _ in 0..200_000 {
            let (r, c, v) = (next() % 3000, next() % 50, (next() % 4) as f32 + 1.0);
            b.push(r, c, v).unwrap();
            *reference.entry((r, c)).or_insert(0.0f32) += v;
        }
        let m = b.build_with_shape(3001, 60).unwrap();
        let got: Vec<((u32, u32), f32)> = (0..m.n_rows())
            .flat_map(|r| {
                let (cols, vals) = m.row(r);
                cols.iter()
                    .zip(vals)
                    .map(move |(&c, &v)| ((r as u32, c), v))
                    .collect::<Vec<_>>()
            })
            .collect();
        let want: Vec<((u32, u32), f32)> = reference.into_iter().collect();
        assert_eq!(got, want);
        let t = m.transpose();
        assert_eq!((t.n_rows(), t.n_cols(), t.nnz()), (60, 3001, m.nnz()));
        assert_eq!(t.transpose(), m);
        Csr::from_parts(
            t.n_rows(),
            t.n_cols(),
            t.indptr().to_vec(),
            t.indices().to_vec(),
            t.values().to_vec(),
        )
        .unwrap();
    }

    #[test]
    fn bad_input_is_rejected() {
        let mut b = CsrBuilder::new();
        assert!(b.push(0, 0, f32::NAN).is_err());
        b.push(5, 1, 1.0).unwrap();
        assert!(b.clone().build_with_shape(5, 2).is_err());
        assert!(b.clone().build_with_shape(6, 1).is_err());
        assert_eq!(b.build_with_shape(6, 2).unwrap().nnz(), 1);
        assert!(Csr::from_parts(1, 2, vec![0, 2], vec![1, 1], vec![1.0, 1.0]).is_err());
        assert!(Csr::from_parts(1, 2, vec![0, 1], vec![2], vec![1.0]).is_err());
        assert!(Csr::from_parts(1, 2, vec![0, 1], vec![1], vec![]).is_err());
        assert!(CsrBuilder::new().build().nnz() == 0);
    }
}
