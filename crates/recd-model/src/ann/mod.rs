//! Maximum-inner-product search over item vectors: the ALS candidate generator's index.
//!
//! Two kinds behind one type, [`AnnIndex`]:
//! - **Exact**: a scan of every item. Below `exact_below` items (default 20,000) it is as fast
//!   as any index (a few thousand 64-d dot products are microseconds) and has recall 1.
//! - **IVF** (inverted file): k-means splits the items into √n lists; a query scores the list
//!   centroids and scans only the `n_probe` best lists. `n_probe` is not a guess: [`AnnIndex::build`]
//!   calibrates it on real user vectors, doubling it until recall@10 against the exact scan
//!   reaches `target_recall` (default 0.97, above the 0.95), so the guarantee is
//!   measured on the model being served.
//!
//! Why IVF and not HNSW from a crate: on this machine (DEPENDENCIES.md) the fast HNSW crate
//! (usearch) costs ~6 minutes of C++ build in CI, and hnsw_rs ~3.5k QPS with a 285 MB index at
//! 100k × 64; IVF is ~200 lines over `matrixmultiply` (already a dependency), builds in about a
//! second at 100k items, its memory is one copy of the vectors, and its recall is calibrated.
//! The index is built when the model loads (on the server's background loader, off the
//! request path), not at training time: it is cheap enough, and the artifact format stays
//! unchanged.

use crate::als::Factors;
use crate::pipeline::top_n;

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
}

impl Default for AnnConfig {
    fn default() -> Self {
        Self {
            exact_below: 20_000,
            target_recall: 0.97,
            iterations: 8,
            seed: 42,
        }
    }
}

/// An inverted-file index.
#[derive(Debug, Clone)]
struct Ivf {
    dim: usize,
    /// `n_lists × dim`.
    centroids: Vec<f32>,
    /// List `l` holds positions `offsets[l]..offsets[l + 1]` of `ids` / `vectors`.
    offsets: Vec<usize>,
    /// Item rows, grouped by list.
    ids: Vec<u32>,
    /// Item vectors in the same order (a copy: scanning a list reads memory in sequence).
    vectors: Vec<f32>,
    n_probe: usize,
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
    let scored = (0..items.n_rows() as u32)
        .filter(|&i| keep(i))
        .map(|i| (i, dot(q, items.row(i as usize))));
    top_n(scored, k)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight accumulators break the add dependency chain, so LLVM vectorises the loop.
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
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

impl Ivf {
    fn build(items: &Factors, config: &AnnConfig) -> Self {
        let (n, d) = (items.n_rows(), items.n_factors());
        let n_lists = ((n as f64).sqrt().round() as usize).clamp(1, n.max(1));
        let mut rng = config.seed;
        // k-means on a sample (64 points per list is plenty for the centroids), then every
        // item is assigned once.
        let sample_n = (n_lists * 64).min(n);
        let sample: Vec<f32> = (0..sample_n)
            .flat_map(|_| items.row((next(&mut rng) % n as u64) as usize).to_vec())
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
        let labels = assign(items.as_slice(), &centroids, d);
        let mut offsets = vec![0usize; n_lists + 1];
        for &l in &labels {
            offsets[l as usize + 1] += 1;
        }
        for l in 0..n_lists {
            offsets[l + 1] += offsets[l];
        }
        let mut fill = offsets.clone();
        let mut ids = vec![0u32; n];
        let mut vectors = vec![0f32; n * d];
        for (i, &l) in labels.iter().enumerate() {
            let p = fill[l as usize];
            fill[l as usize] += 1;
            ids[p] = i as u32;
            vectors[p * d..(p + 1) * d].copy_from_slice(items.row(i));
        }
        Ivf {
            dim: d,
            centroids,
            offsets,
            ids,
            vectors,
            n_probe: 1,
        }
    }

    fn search(&self, q: &[f32], k: usize, keep: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
        let d = self.dim;
        let lists = top_n(
            self.centroids
                .chunks_exact(d)
                .enumerate()
                .map(|(l, c)| (l as u32, dot(q, c))),
            self.n_probe,
        );
        let scored = lists.into_iter().flat_map(|(l, _)| {
            let (a, b) = (self.offsets[l as usize], self.offsets[l as usize + 1]);
            (a..b).map(move |p| (self.ids[p], p))
        });
        let scored = scored
            .filter(|(i, _)| keep(*i))
            .map(|(i, p)| (i, dot(q, &self.vectors[p * d..(p + 1) * d])));
        top_n(scored, k)
    }
}

impl AnnIndex {
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
        let mut recall = 0.0;
        for n_probe in std::iter::successors(Some(1usize), |p| Some(p * 2)) {
            ivf.n_probe = n_probe.min(n_lists);
            recall = mean_recall(&sample, &truth, |q| ivf.search(q, 10, |_| true));
            if recall >= config.target_recall || ivf.n_probe == n_lists {
                break;
            }
        }
        tracing::info!(
            n_items = items.n_rows(),
            n_lists,
            n_probe = ivf.n_probe,
            recall_at_10 = recall,
            "ALS item index built"
        );
        Self {
            ivf: Some(ivf),
            recall_at_10: recall,
        }
    }

    /// `exact` or `ivf`.
    pub fn kind(&self) -> &'static str {
        if self.ivf.is_some() { "ivf" } else { "exact" }
    }

    /// Lists probed per query (0 for exact).
    pub fn n_probe(&self) -> usize {
        self.ivf.as_ref().map_or(0, |i| i.n_probe)
    }

    /// The (approximately) `k` best items for `q` among those `keep` accepts, best first.
    pub fn search(
        &self,
        items: &Factors,
        q: &[f32],
        k: usize,
        keep: impl Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        match &self.ivf {
            Some(ivf) => ivf.search(q, k, keep),
            None => exact(items, q, k, keep),
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
