//! Maximum-inner-product search over item vectors: the ALS candidate generator's index.
//!
//! Two kinds behind one type, [`AnnIndex`]:
//! - **Exact**: a scan of every item. Below `exact_below` items (default 20,000) it is as fast
//!   as any index (a few thousand 64-d dot products are microseconds) and has recall 1.
//! - **IVF** (inverted file): k-means splits the items into √n lists; a query scores the list
//!   centroids and scans only the `n_probe` best lists. `n_probe` is not a guess: [`AnnIndex::build`]
//!   calibrates it on real user vectors: the smallest count whose recall@10 against the exact
//!   scan reaches `target_recall` (default 0.97, above the required 0.95), found by doubling
//!   then bisecting, so the guarantee is measured on the model being served.
//!
//! Why IVF and not HNSW from a crate: on this machine (DEPENDENCIES.md) the fast HNSW crate
//! (usearch) costs minutes of C++ build in CI, and hnsw_rs answered far fewer queries per
//! second with an index many times the vectors' size; IVF is ~300 lines over `matrixmultiply`
//! (already a dependency), its memory is
//! one copy of the vectors, and its recall is calibrated. The side-by-side measurement against
//! hnswlib on the same vectors is in BENCHMARKS.md (`bench/ann.sh`).
//!
//! Built at training time and saved with the model ([`AnnIndex::save`], [`AnnIndex::load`]:
//! centroids, the list of every item and the calibrated `n_probe`), so the served index is
//! the one whose recall training measured, and loading does no k-means. A model saved before
//! indexes were part of the artifact builds them on first use.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::als::Factors;
use crate::als::kernels::dot_rows;
use crate::artifact::arrays;
use crate::content::dot;
use crate::pipeline::{push_keys, top_n, top_n_kept};
use crate::sparse::SparseRows;

/// How the index is built.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnnConfig {
    /// Use the exact scan below this many items.
    pub exact_below: usize,
    /// Recall@10 against exact search that calibration must reach.
    pub target_recall: f64,
    /// k-means iterations.
    pub iterations: usize,
    /// Seed of the k-means initialisation and the calibration sample.
    pub seed: u64,
    /// Share of the items, the longest vectors, that every query scans (the head).
    pub head_share: f64,
}

impl Default for AnnConfig {
    fn default() -> Self {
        Self {
            exact_below: 20_000,
            target_recall: 0.97,
            iterations: 8,
            seed: 42,
            head_share: 0.01,
        }
    }
}

/// An inverted-file index.
#[derive(Debug, Clone)]
struct Ivf {
    dim: usize,
    /// `n_lists × (dim + 1)`, in the augmented space (see [`augment`]).
    centroids: Vec<f32>,
    /// `‖centroid‖² / 2` of each list (the routing score's bias).
    half_norms: Vec<f32>,
    /// List `l` holds positions `offsets[l]..offsets[l + 1]` of `ids` / `rows`. Positions
    /// `0..offsets[0]` are the head: the longest vectors, scanned by every query.
    offsets: Vec<usize>,
    /// Item rows, grouped by list.
    ids: Vec<u32>,
    /// Item vectors in the same order (a copy: scanning a list reads memory in sequence).
    rows: ListRows,
    n_probe: usize,
}

/// The lists' copy of the item vectors: dense, or their non-zeros when the vectors are sparse
/// (content vectors; see [`crate::sparse`]).
#[derive(Debug, Clone)]
enum ListRows {
    Dense(Vec<f32>),
    Sparse(SparseRows),
}

/// The index over one model's item vectors.
#[derive(Debug, Clone)]
pub struct AnnIndex {
    ivf: Option<Ivf>,
    /// Recall@10 measured at build time (1 for exact).
    pub recall_at_10: f64,
}

/// The `k` items with the largest `q · item` among those `keep` accepts, best first (exact).
pub fn exact(items: &Factors, q: &[f32], k: usize, keep: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
    exact_rows(items.as_slice(), q, k, keep)
}

/// [`exact`] over row-major `rows` of width `q.len()`.
pub(crate) fn exact_rows(
    rows: &[f32],
    q: &[f32],
    k: usize,
    keep: impl Fn(u32) -> bool,
) -> Vec<(u32, f32)> {
    let mut scores = Vec::with_capacity(rows.len() / q.len().max(1));
    dot_rows(rows, q, &mut scores);
    let mut keys = Vec::with_capacity(scores.len());
    push_keys(&mut keys, (0..).zip(scores));
    top_n_kept(keys, k, keep)
}

/// A small deterministic generator (SplitMix64) for sampling.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `out[r * n + c] = a_row(r) · b_row(c)` for `a` (`m × d`) and `b` (`n × d`), by GEMM.
pub(crate) fn products(a: &[f32], b: &[f32], d: usize, out: &mut Vec<f32>) {
    out.clear();
    if d == 0 {
        return;
    }
    let (m, n) = (a.len() / d, b.len() / d);
    out.resize(m * n, 0.0);
    if m == 0 || n == 0 || d == 0 {
        return;
    }
    // SAFETY: A is m×d row-major (row stride d, column stride 1) inside `a`; Bᵀ is d×n with
    // element (j, c) at b[c*d + j] (row stride 1, column stride d) inside `b`; C is m×n
    // row-major inside `out`, which was just sized to m*n and does not alias `a` or `b`.
    unsafe {
        matrixmultiply::sgemm(
            m,
            d,
            n,
            1.0,
            a.as_ptr(),
            d as isize,
            1,
            b.as_ptr(),
            1,
            d as isize,
            0.0,
            out.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Index of the nearest centroid (L2) of each row of `x`, in blocks to bound memory.
fn assign(x: &[f32], centroids: &[f32], d: usize) -> Vec<u32> {
    let n_c = centroids.len() / d;
    let norms: Vec<f32> = centroids.chunks_exact(d).map(|c| dot(c, c)).collect();
    let mut res = Vec::with_capacity(x.len() / d);
    let mut buf = Vec::new();
    for block in x.chunks(4096 * d) {
        products(block, centroids, d, &mut buf);
        for row in buf.chunks_exact(n_c) {
            // ‖x − c‖² = ‖x‖² − 2x·c + ‖c‖²; ‖x‖² is the same for every c.
            let best = (0..n_c)
                .min_by(|&a, &b| (norms[a] - 2.0 * row[a]).total_cmp(&(norms[b] - 2.0 * row[b])))
                .unwrap_or(0);
            res.push(best as u32);
        }
    }
    res
}

/// The items scaled by the largest norm `M` and given one more coordinate,
/// `√(1 − ‖x/M‖²)`, so every augmented item has length 1 and, for a query `(q, 0)`, L2
/// distance orders items exactly as the inner product does (the MIPS-to-nearest-neighbour
/// reduction of Bachrach et al., 2014). Clustering raw ALS vectors by L2 instead put the
/// long (popular) vectors, which win inner products, in lists the routing ranked last: on a
/// 100k-item model recall@10 stalled at 0.87 until every list was scanned.
fn augment(items: &[f32], d: usize) -> Vec<f32> {
    let norms: Vec<f32> = items.chunks_exact(d).map(|x| dot(x, x).sqrt()).collect();
    let m = norms
        .iter()
        .copied()
        .fold(0f32, f32::max)
        .max(f32::MIN_POSITIVE);
    let mut out = Vec::with_capacity(norms.len() * (d + 1));
    for (x, norm) in items.chunks_exact(d).zip(&norms) {
        out.extend(x.iter().map(|v| v / m));
        out.push((1.0 - (norm / m).powi(2)).max(0.0).sqrt());
    }
    out
}

impl Ivf {
    fn build(raw: &Factors, config: &AnnConfig) -> Self {
        let (n_all, raw_d) = (raw.n_rows(), raw.n_factors());
        // The head: the longest vectors, which win most inner products (ALS norms grow with
        // popularity: on a 100k-item model the longest was many times the 99th percentile). Scanned
        // by every query, and kept out of the augmented space, where one very long vector
        // would shrink every other to a point.
        let mut by_norm: Vec<(u32, f32)> = (0..n_all as u32)
            .map(|i| {
                let x = raw.row(i as usize);
                (i, dot(x, x))
            })
            .collect();
        by_norm.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let head_n = ((n_all as f64 * config.head_share).ceil() as usize).min(n_all - 1);
        let head: Vec<u32> = by_norm[..head_n].iter().map(|x| x.0).collect();
        let rest: Vec<u32> = by_norm[head_n..].iter().map(|x| x.0).collect();
        let n = rest.len();
        let mut gathered = Vec::with_capacity(n * raw_d);
        for &i in &rest {
            gathered.extend_from_slice(raw.row(i as usize));
        }
        // Lists are made in the augmented space, where L2 nearness is inner-product order.
        let d = raw_d + 1;
        let items = augment(&gathered, raw_d);
        drop(gathered);
        let row = |i: usize| &items[i * d..(i + 1) * d];
        let n_lists = ((n as f64).sqrt().round() as usize).clamp(1, n.max(1));
        let mut rng = config.seed;
        // k-means on a sample (64 points per list is plenty for the centroids), then every
        // item is assigned once.
        let sample_n = (n_lists * 64).min(n);
        let sample: Vec<f32> = (0..sample_n)
            .flat_map(|_| row((next(&mut rng) % n as u64) as usize).to_vec())
            .collect();
        let mut centroids: Vec<f32> = (0..n_lists)
            .flat_map(|_| {
                let r = (next(&mut rng) % sample_n as u64) as usize;
                sample[r * d..(r + 1) * d].to_vec()
            })
            .collect();
        for _ in 0..config.iterations {
            let labels = assign(&sample, &centroids, d);
            let mut sums = vec![0f32; n_lists * d];
            let mut counts = vec![0usize; n_lists];
            for (r, &l) in labels.iter().enumerate() {
                counts[l as usize] += 1;
                let s = &mut sums[l as usize * d..(l as usize + 1) * d];
                s.iter_mut()
                    .zip(&sample[r * d..(r + 1) * d])
                    .for_each(|(a, b)| *a += b);
            }
            for l in 0..n_lists {
                if counts[l] > 0 {
                    let c = &mut centroids[l * d..(l + 1) * d];
                    c.iter_mut()
                        .zip(&sums[l * d..(l + 1) * d])
                        .for_each(|(c, s)| *c = s / counts[l] as f32);
                } else {
                    // An empty list restarts at a random sample point.
                    let r = (next(&mut rng) % sample_n as u64) as usize;
                    centroids[l * d..(l + 1) * d].copy_from_slice(&sample[r * d..(r + 1) * d]);
                }
            }
        }
        let labels = assign(&items, &centroids, d);
        let mut offsets = vec![0usize; n_lists + 1];
        offsets[0] = head_n;
        for &l in &labels {
            offsets[l as usize + 1] += 1;
        }
        for l in 0..n_lists {
            offsets[l + 1] += offsets[l];
        }
        let mut fill = offsets.clone();
        let mut ids = vec![0u32; n_all];
        ids[..head_n].copy_from_slice(&head);
        for (r, &l) in labels.iter().enumerate() {
            ids[fill[l as usize]] = rest[r];
            fill[l as usize] += 1;
        }
        Ivf::new(raw_d, centroids, offsets, ids, raw.as_slice(), 1)
    }

    /// The index from its parts; the list vectors are gathered from `items` (raw, width
    /// `dim`) in list order.
    fn new(
        dim: usize,
        centroids: Vec<f32>,
        offsets: Vec<usize>,
        ids: Vec<u32>,
        items: &[f32],
        n_probe: usize,
    ) -> Self {
        let half_norms = centroids
            .chunks_exact(dim + 1)
            .map(|c| dot(c, c) / 2.0)
            .collect();
        let mut vectors = Vec::with_capacity(ids.len() * dim);
        for &i in &ids {
            vectors.extend_from_slice(&items[i as usize * dim..(i as usize + 1) * dim]);
        }
        Ivf {
            dim,
            centroids,
            half_norms,
            offsets,
            ids,
            rows: match SparseRows::of(&vectors, dim) {
                Some(s) => ListRows::Sparse(s),
                None => ListRows::Dense(vectors),
            },
            n_probe,
        }
    }

    /// The `n_probe` lists nearest to `q` in the augmented space: `q` scaled to unit length
    /// with a 0 appended, so ‖q' − c‖² = 1 + ‖c‖² − 2 q'·c and the nearest lists are those
    /// with the largest `q'·c − ‖c‖²/2`.
    fn route(&self, q: &[f32]) -> Vec<(u32, f32)> {
        let norm = dot(q, q).sqrt().max(f32::MIN_POSITIVE);
        let mut unit: Vec<f32> = q.iter().map(|x| x / norm).collect();
        unit.push(0.0);
        let mut scores = Vec::with_capacity(self.half_norms.len());
        dot_rows(&self.centroids, &unit, &mut scores);
        top_n(
            scores
                .into_iter()
                .zip(&self.half_norms)
                .enumerate()
                .map(|(l, (s, h))| (l as u32, s - h)),
            self.n_probe,
        )
    }

    /// Appends `q ·` the vectors at positions `rows` to `out`.
    fn score(&self, rows: std::ops::Range<usize>, q: &[f32], out: &mut Vec<f32>) {
        match &self.rows {
            ListRows::Sparse(s) => s.dots(rows, q, out),
            ListRows::Dense(v) => dot_rows(&v[rows.start * self.dim..rows.end * self.dim], q, out),
        }
    }

    fn search(&self, q: &[f32], k: usize, keep: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
        let lists = self.route(q);
        let span = |l: u32| self.offsets[l as usize]..self.offsets[l as usize + 1];
        let head = 0..self.offsets[0];
        let spans = std::iter::once(head).chain(lists.iter().map(|&(l, _)| span(l)));
        // Sized once: growing it while scanning showed in profiles of the search.
        let total: usize = spans.clone().map(|r| r.len()).sum();
        let mut keys = Vec::with_capacity(total);
        let mut scores = Vec::with_capacity(spans.clone().map(|r| r.len()).max().unwrap_or(0));
        // Score each list in one pass over its contiguous vectors; filter the best.
        for r in spans {
            scores.clear();
            self.score(r.clone(), q, &mut scores);
            push_keys(
                &mut keys,
                self.ids[r].iter().copied().zip(scores.iter().copied()),
            );
        }
        top_n_kept(keys, k, keep)
    }
}

/// What an index's JSON side file records.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnnSide {
    kind: String,
    n_probe: usize,
    recall_at_10: f64,
}

impl AnnIndex {
    /// Backs the lists with huge pages ([`crate::hugepages`]).
    pub(crate) fn advise_hugepages(&self) {
        if let Some(ivf) = &self.ivf {
            crate::hugepages::advise(&ivf.ids);
            match &ivf.rows {
                ListRows::Dense(v) => crate::hugepages::advise(v),
                ListRows::Sparse(s) => crate::hugepages::advise(s.entries()),
            };
        }
    }

    /// Writes the index as `{name}.ann.json` (+ `{name}.centroids.arr`, `{name}.lists.arr` and
    /// `{name}.offsets.arr` for IVF) into `dir`.
    pub fn save(&self, dir: &Path, name: &str) -> Result<(), ModelError> {
        let side = AnnSide {
            kind: self.kind().into(),
            n_probe: self.n_probe(),
            recall_at_10: self.recall_at_10,
        };
        if let Some(ivf) = &self.ivf {
            let n_lists = ivf.offsets.len() - 1;
            arrays::write(
                &dir.join(format!("{name}.centroids.arr")),
                &[n_lists, ivf.dim + 1],
                &ivf.centroids,
            )?;
            arrays::write(
                &dir.join(format!("{name}.lists.arr")),
                &[ivf.ids.len()],
                &ivf.ids,
            )?;
            let offsets: Vec<u32> = ivf.offsets.iter().map(|&o| o as u32).collect();
            arrays::write(
                &dir.join(format!("{name}.offsets.arr")),
                &[offsets.len()],
                &offsets,
            )?;
        }
        let path = dir.join(format!("{name}.ann.json"));
        let text = serde_json::to_string(&side).map_err(|e| ModelError::Artifact(e.to_string()))?;
        std::fs::write(&path, text)
            .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))
    }

    /// Reads the index `name` saved in `dir` over `items` (row-major, width `dim`): `None`
    /// when the artifact has none; an error when it does not fit the items.
    pub fn load(
        dir: &Path,
        name: &str,
        items: &[f32],
        dim: usize,
    ) -> Result<Option<Self>, ModelError> {
        let path = dir.join(format!("{name}.ann.json"));
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ModelError::Artifact(format!("{}: {e}", path.display()))),
        };
        let side: AnnSide = serde_json::from_str(&text)
            .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))?;
        let bad = |what: &str| ModelError::Artifact(format!("{}: {what}", path.display()));
        if side.kind == "exact" {
            return Ok(Some(Self::exact_only()));
        }
        if side.kind != "ivf" {
            return Err(bad("unknown index kind"));
        }
        let n = items.len().checked_div(dim).unwrap_or(0);
        let (cdims, centroids) = arrays::read::<f32>(&dir.join(format!("{name}.centroids.arr")))?;
        let (_, ids) = arrays::read::<u32>(&dir.join(format!("{name}.lists.arr")))?;
        let (_, offsets) = arrays::read::<u32>(&dir.join(format!("{name}.offsets.arr")))?;
        let offsets: Vec<usize> = offsets.into_iter().map(|o| o as usize).collect();
        let n_lists = offsets.len().saturating_sub(1);
        let sound = cdims == [n_lists, dim + 1]
            && ids.len() == n
            && offsets.last() == Some(&n)
            && offsets.windows(2).all(|w| w[0] <= w[1])
            && ids.iter().all(|&i| (i as usize) < n)
            && (1..=n_lists.max(1)).contains(&side.n_probe);
        if !sound {
            return Err(bad("does not fit the model's items"));
        }
        Ok(Some(Self {
            ivf: Some(Ivf::new(dim, centroids, offsets, ids, items, side.n_probe)),
            recall_at_10: side.recall_at_10,
        }))
    }

    /// An index that always scans every item.
    pub fn exact_only() -> Self {
        Self {
            ivf: None,
            recall_at_10: 1.0,
        }
    }

    /// Builds the index over `items`; for IVF, calibrates `n_probe` on up to 200 rows of
    /// `queries` (the model's user vectors; item vectors serve when there are none).
    pub fn build(items: &Factors, queries: &Factors, config: &AnnConfig) -> Self {
        if items.n_rows() < config.exact_below.max(2) || items.n_factors() == 0 {
            return Self {
                ivf: None,
                recall_at_10: 1.0,
            };
        }
        let mut ivf = Ivf::build(items, config);
        let queries = if queries.n_rows() > 0 && queries.n_factors() == items.n_factors() {
            queries
        } else {
            items
        };
        let mut rng = config.seed ^ 0x5EED;
        let sample: Vec<&[f32]> = (0..200.min(queries.n_rows()))
            .map(|_| queries.row((next(&mut rng) % queries.n_rows() as u64) as usize))
            .collect();
        let truth: Vec<Vec<(u32, f32)>> = sample
            .iter()
            .map(|q| exact(items, q, 10, |_| true))
            .collect();
        let n_lists = ivf.offsets.len() - 1;
        let recall_at = |ivf: &mut Ivf, n_probe: usize| {
            ivf.n_probe = n_probe;
            mean_recall(&sample, &truth, |q| ivf.search(q, 10, |_| true))
        };
        // Doubling finds a count that reaches the target; bisecting between it and the one
        // below then finds the smallest. Doubling alone overshot, up to twice the lists the
        // target needs, and the content index's search is a large share of a served answer
        // (`examples/pipeline_cost`).
        let (mut below, mut above) = (0usize, 1usize);
        let mut recall = recall_at(&mut ivf, 1);
        while recall < config.target_recall && above < n_lists {
            below = above;
            above = (above * 2).min(n_lists);
            recall = recall_at(&mut ivf, above);
        }
        if recall >= config.target_recall {
            while above - below > 1 {
                let mid = below + (above - below) / 2;
                let r = recall_at(&mut ivf, mid);
                if r >= config.target_recall {
                    (above, recall) = (mid, r);
                } else {
                    below = mid;
                }
            }
        }
        ivf.n_probe = above;
        tracing::info!(
            n_items = items.n_rows(),
            n_lists,
            n_probe = ivf.n_probe,
            recall_at_10 = recall,
            "nearest-neighbour index built"
        );
        Self {
            ivf: Some(ivf),
            recall_at_10: recall,
        }
    }

    /// `exact` or `ivf`.
    pub fn kind(&self) -> &'static str {
        if self.has_lists() { "ivf" } else { "exact" }
    }

    /// Whether searches probe lists (IVF) rather than scan every item.
    pub(crate) fn has_lists(&self) -> bool {
        self.ivf.is_some()
    }

    /// Lists probed per query (0 for exact).
    pub fn n_probe(&self) -> usize {
        self.ivf.as_ref().map_or(0, |i| i.n_probe)
    }

    /// Kind and measured recall@10, for logs.
    pub fn summary(&self) -> (&'static str, f64) {
        (self.kind(), self.recall_at_10)
    }

    /// Number of lists (0 for exact).
    pub fn n_lists(&self) -> usize {
        self.ivf.as_ref().map_or(0, |i| i.offsets.len() - 1)
    }

    /// Probes `n_probe` lists per query from now on (clamped to 1..=lists; benchmarks sweep
    /// it). No effect on an exact index.
    pub fn set_n_probe(&mut self, n_probe: usize) {
        if let Some(ivf) = &mut self.ivf {
            ivf.n_probe = n_probe.clamp(1, ivf.offsets.len() - 1);
        }
    }

    /// The (approximately) `k` best items for `q` among those `keep` accepts, best first.
    /// `items` are the vectors the index was built over (row-major, width `q.len()`); the
    /// exact kind scans them.
    pub fn search(
        &self,
        items: &[f32],
        q: &[f32],
        k: usize,
        keep: impl Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        match &self.ivf {
            Some(ivf) => ivf.search(q, k, keep),
            None => exact_rows(items, q, k, keep),
        }
    }
}

/// Mean share of `truth`'s items that `search` finds, over the queries.
pub fn mean_recall(
    queries: &[&[f32]],
    truth: &[Vec<(u32, f32)>],
    search: impl Fn(&[f32]) -> Vec<(u32, f32)>,
) -> f64 {
    if queries.is_empty() {
        return 1.0;
    }
    let total: f64 = queries
        .iter()
        .zip(truth)
        .map(|(q, t)| {
            let found: std::collections::HashSet<u32> =
                search(q).into_iter().map(|x| x.0).collect();
            let hit = t.iter().filter(|x| found.contains(&x.0)).count();
            hit as f64 / t.len().max(1) as f64
        })
        .sum();
    total / queries.len() as f64
}

#[cfg(test)]
mod tests;
