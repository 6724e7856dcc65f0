//! Dense f32 kernels of the conjugate-gradient row solve, in two builds behind one trait.
//!
//! [`Portable`] is plain Rust that LLVM vectorises for the baseline x86-64 target (SSE2) or
//! any other architecture. [`Avx2Fma`] uses AVX2/FMA intrinsics and is only instantiated inside
//! a function compiled with those features after a run-time CPU check (see `cg.rs`). The
//! intrinsics matter: LLVM's auto-vectoriser turned the portable 16-lane dot product into
//! 2-lane `vfmadd231ps xmm` code even with FMA enabled, so relying on it left most of the
//! vector width unused on the hottest loop.
//!
//! Software prefetch ([`prefetch_row`]) hides the cache misses of reading the other side's
//! factor rows in index order: on synth-small a profile showed the first load of each row
//! taking a large share of the solve before prefetching.
//!
//! Measured together (`recd bench als --events synth-small/events.csv --threads 1`, same
//! machine, loaded): the intrinsics and prefetch cut fit_cpu_s well below the auto-vectorised
//! FMA build's without prefetch.

/// The operations a row solve needs.
pub(crate) trait Kernels {
    /// Σ a[i]·b[i] over the common length.
    fn dot(a: &[f32], b: &[f32]) -> f32;
    /// y += alpha·x over the common length.
    fn axpy(alpha: f32, x: &[f32], y: &mut [f32]);
    /// out = M·p for a symmetric k×k matrix `m` stored in full, row-major.
    fn sym_mat_vec(m: &[f32], k: usize, p: &[f32], out: &mut [f32]);
}

/// Plain Rust kernels for any target.
pub(crate) struct Portable;

/// Accumulator width of the portable dot product.
const DOT_LANES: usize = 8;

/// Output block of the portable matrix-vector product: its accumulators stay in registers.
const MV_BLOCK: usize = 16;

impl Kernels for Portable {
    #[inline(always)]
    fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let mut acc = [0.0f32; DOT_LANES];
        let (mut ca, mut cb) = (a.chunks_exact(DOT_LANES), b.chunks_exact(DOT_LANES));
        for (x, y) in (&mut ca).zip(&mut cb) {
            for j in 0..DOT_LANES {
                acc[j] += x[j] * y[j];
            }
        }
        let mut tail = 0.0f32;
        for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
            tail += x * y;
        }
        acc.iter().sum::<f32>() + tail
    }

    #[inline(always)]
    fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
        for (yi, xi) in y.iter_mut().zip(x) {
            *yi += alpha * xi;
        }
    }

    /// Computed as Σ_j p[j]·M[j, :] (row j equals column j by symmetry) in blocks of outputs,
    /// so there is no horizontal reduction and no store per step.
    #[inline(always)]
    fn sym_mat_vec(m: &[f32], k: usize, p: &[f32], out: &mut [f32]) {
        let p = &p[..k];
        let mut start = 0;
        for block in out[..k].chunks_mut(MV_BLOCK) {
            let width = block.len();
            let mut acc = [0.0f32; MV_BLOCK];
            for (j, &pj) in p.iter().enumerate() {
                let row = &m[j * k + start..j * k + start + width];
                for (a, r) in acc.iter_mut().zip(row) {
                    *a += pj * r;
                }
            }
            block.copy_from_slice(&acc[..width]);
            start += width;
        }
    }
}

/// Hints the CPU to start loading `row` into L1 now; a no-op where we have no prefetch.
#[inline(always)]
pub(crate) fn prefetch_row<T>(row: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        const LINE: usize = 64;
        let start = row.as_ptr().cast::<i8>();
        for offset in (0..std::mem::size_of_val(row)).step_by(LINE) {
            // SAFETY: prefetch never faults and reads nothing architecturally; the pointer is
            // in bounds anyway. SSE is part of the x86-64 baseline.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// Hints the CPU to start loading the cache line holding `value` (public: the serving
/// layer's post-processing prefetches its per-item rows with it too).
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: as in `prefetch_row`: a hint that never faults, on a valid reference.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// AVX2 + FMA kernels. Only use this type inside a function compiled with
/// `#[target_feature(enable = "avx2,fma")]` that is only called after a CPU check: the
/// methods are safe wrappers whose soundness rests on that.
#[cfg(target_arch = "x86_64")]
pub(crate) struct Avx2Fma;

#[cfg(target_arch = "x86_64")]
impl Kernels for Avx2Fma {
    #[inline(always)]
    fn dot(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: see the type's contract: the CPU has AVX2 and FMA.
        unsafe { avx2::dot(a, b) }
    }

    #[inline(always)]
    fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
        // SAFETY: as above.
        unsafe { avx2::axpy(alpha, x, y) }
    }

    #[inline(always)]
    fn sym_mat_vec(m: &[f32], k: usize, p: &[f32], out: &mut [f32]) {
        // SAFETY: as above.
        unsafe { avx2::sym_mat_vec(m, k, p, out) }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The intrinsics behind [`super::Avx2Fma`]. Every function requires AVX2 and FMA.

    use std::arch::x86_64::*;

    /// Horizontal sum of 8 lanes.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(v: __m256) -> f32 {
        let pair = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let quad = _mm_add_ps(pair, _mm_movehl_ps(pair, pair));
        let single = _mm_add_ss(quad, _mm_movehdup_ps(quad));
        _mm_cvtss_f32(single)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY (all loads): i + 8·t + 8 <= n <= len of both slices.
        while i + 32 <= n {
            for (t, lane) in acc.iter_mut().enumerate() {
                let x = unsafe { _mm256_loadu_ps(pa.add(i + 8 * t)) };
                let y = unsafe { _mm256_loadu_ps(pb.add(i + 8 * t)) };
                *lane = _mm256_fmadd_ps(x, y, *lane);
            }
            i += 32;
        }
        while i + 8 <= n {
            let x = unsafe { _mm256_loadu_ps(pa.add(i)) };
            let y = unsafe { _mm256_loadu_ps(pb.add(i)) };
            acc[0] = _mm256_fmadd_ps(x, y, acc[0]);
            i += 8;
        }
        let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut total = unsafe { hsum(sum) };
        while i < n {
            total = a[i].mul_add(b[i], total);
            i += 1;
        }
        total
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
        let n = x.len().min(y.len());
        let (px, py) = (x.as_ptr(), y.as_mut_ptr());
        let va = _mm256_set1_ps(alpha);
        let mut i = 0;
        // SAFETY (all loads/stores): i + 8 <= n <= len of both slices; x and y are distinct
        // borrows (one is mutable), so they do not overlap.
        while i + 8 <= n {
            unsafe {
                let v = _mm256_fmadd_ps(va, _mm256_loadu_ps(px.add(i)), _mm256_loadu_ps(py.add(i)));
                _mm256_storeu_ps(py.add(i), v);
            }
            i += 8;
        }
        while i < n {
            y[i] = alpha.mul_add(x[i], y[i]);
            i += 1;
        }
    }

    /// out = M·p as Σ_j p[j]·M[j, :], 32 outputs (four registers) per sweep over j.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn sym_mat_vec(m: &[f32], k: usize, p: &[f32], out: &mut [f32]) {
        assert!(m.len() >= k * k && p.len() >= k && out.len() >= k);
        let pm = m.as_ptr();
        let mut start = 0;
        // SAFETY (all loads/stores below): start + 8·t + 8 <= k, so every row access
        // j·k + start + .. stays below k·k <= m.len() and every store below k <= out.len().
        while start + 32 <= k {
            let mut acc = [_mm256_setzero_ps(); 4];
            for (j, &pj) in p[..k].iter().enumerate() {
                let vp = _mm256_set1_ps(pj);
                let row = unsafe { pm.add(j * k + start) };
                for (t, lane) in acc.iter_mut().enumerate() {
                    *lane = _mm256_fmadd_ps(vp, unsafe { _mm256_loadu_ps(row.add(8 * t)) }, *lane);
                }
            }
            for (t, lane) in acc.iter().enumerate() {
                unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(start + 8 * t), *lane) };
            }
            start += 32;
        }
        while start + 8 <= k {
            let mut acc = _mm256_setzero_ps();
            for (j, &pj) in p[..k].iter().enumerate() {
                let row = unsafe { _mm256_loadu_ps(pm.add(j * k + start)) };
                acc = _mm256_fmadd_ps(_mm256_set1_ps(pj), row, acc);
            }
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(start), acc) };
            start += 8;
        }
        for (i, o) in out[start..k].iter_mut().enumerate() {
            let col = start + i;
            *o = p[..k]
                .iter()
                .enumerate()
                .fold(0.0f32, |s, (j, &pj)| pj.mul_add(m[j * k + col], s));
        }
    }
}

/// `a · b` with AVX2/FMA when the CPU has them (checked at run time; the check is one cached
/// atomic load), else the portable kernel. The serving pipeline's dot product: candidate
/// features and every index scan go through it.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { avx2::dot(a, b) };
    }
    Portable::dot(a, b)
}

/// Appends `row · q` for every row of the row-major `rows` (width `q.len()`) to `out`, with
/// AVX2/FMA when the CPU has them. One CPU check per call and the loop compiled with the
/// features, so the dot product inlines: the index scans call this once per list.
pub(crate) fn dot_rows(rows: &[f32], q: &[f32], out: &mut Vec<f32>) {
    if q.is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { dot_rows_avx2(rows, q, out) };
        return;
    }
    out.extend(rows.chunks_exact(q.len()).map(|r| Portable::dot(r, q)));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_rows_avx2(rows: &[f32], q: &[f32], out: &mut Vec<f32>) {
    out.extend(rows.chunks_exact(q.len()).map(|r| Avx2Fma::dot(r, q)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    fn ramp(n: usize, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919) % 31) as f32 * scale - 0.3)
            .collect()
    }

    fn sym(k: usize) -> Vec<f32> {
        let mut m = vec![0.0f32; k * k];
        for i in 0..k {
            for j in 0..=i {
                let v = ((i * 13 + j * 7) % 11) as f32 * 0.1;
                m[i * k + j] = v;
                m[j * k + i] = v;
            }
        }
        m
    }

    /// Runs every kernel of `K` against f64 references for sizes around the block widths.
    fn check<K: Kernels>() {
        for n in [0, 1, 5, 8, 15, 16, 17, 31, 32, 33, 64, 70, 128] {
            let (a, b) = (ramp(n, 0.05), ramp(n + 3, 0.02));
            let got = f64::from(K::dot(&a, &b[..n]));
            assert!((got - naive_dot(&a, &b[..n])).abs() < 1e-4, "dot n={n}");
            let mut y = ramp(n, 0.01);
            let want: Vec<f32> = y.iter().zip(&a).map(|(y, a)| y + 0.5 * a).collect();
            K::axpy(0.5, &a, &mut y);
            for (g, w) in y.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "axpy n={n}");
            }
        }
        for k in [1, 3, 8, 12, 32, 40, 64, 65, 100] {
            let (m, p) = (sym(k), ramp(k, 0.1));
            let mut out = vec![f32::NAN; k];
            K::sym_mat_vec(&m, k, &p, &mut out);
            for i in 0..k {
                let want = naive_dot(&m[i * k..(i + 1) * k], &p);
                assert!((f64::from(out[i]) - want).abs() < 1e-4, "k={k} i={i}");
            }
        }
    }

    #[test]
    fn portable_kernels_match_references() {
        check::<Portable>();
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_kernels_match_references_where_the_cpu_has_them() {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            check::<Avx2Fma>();
        } else {
            eprintln!("skipped: this CPU lacks AVX2/FMA");
        }
    }
}
