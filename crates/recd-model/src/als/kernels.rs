//! Dense f32 kernels of the conjugate-gradient row solve.
//!
//! Written as fixed-width loops over arrays so LLVM vectorises them without `unsafe` or
//! intrinsics. Every kernel is generic over [`Arith`]: with [`Plain`] a multiply-add is two
//! instructions and the code runs on any x86-64 (SSE2); with [`Fused`] it is one FMA, and the
//! caller compiles the whole solve inside an `avx2,fma` function picked at run time (see
//! `cg.rs`). The kernels are `#[inline(always)]` so they inherit that function's features.

/// How a multiply-add is computed.
pub(crate) trait Arith {
    /// `a * b + c`.
    fn mul_add(a: f32, b: f32, c: f32) -> f32;
}

/// Separate multiply and add: portable, what the baseline x86-64 target has.
pub(crate) struct Plain;

impl Arith for Plain {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// Fused multiply-add: one rounding, one instruction where the target has FMA. Only use it
/// inside a function compiled with `fma` enabled, or it becomes a slow libm call.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) struct Fused;

impl Arith for Fused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// Accumulator width of [`dot`]: 16 lanes are two AVX registers (four SSE ones), enough
/// independent chains to hide the add latency for k = 32..128.
const DOT_LANES: usize = 16;

/// Output block of [`sym_mat_vec`]: 32 floats stay in registers while a column sweep runs.
const MV_BLOCK: usize = 32;

/// Σ a[i]·b[i] over the common length.
#[inline(always)]
pub(crate) fn dot<A: Arith>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; DOT_LANES];
    let (mut ca, mut cb) = (a.chunks_exact(DOT_LANES), b.chunks_exact(DOT_LANES));
    for (x, y) in (&mut ca).zip(&mut cb) {
        let x: &[f32; DOT_LANES] = x.try_into().expect("chunk has DOT_LANES elements");
        let y: &[f32; DOT_LANES] = y.try_into().expect("chunk has DOT_LANES elements");
        for j in 0..DOT_LANES {
            acc[j] = A::mul_add(x[j], y[j], acc[j]);
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail = A::mul_add(*x, *y, tail);
    }
    // Pairwise halving keeps the reduction short and its rounding independent of `n`.
    let mut width = DOT_LANES / 2;
    while width > 0 {
        for j in 0..width {
            acc[j] += acc[j + width];
        }
        width /= 2;
    }
    acc[0] + tail
}

/// y += alpha·x over the common length.
#[inline(always)]
pub(crate) fn axpy<A: Arith>(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi = A::mul_add(alpha, *xi, *yi);
    }
}

/// out = M·p for a symmetric k×k matrix `m` stored in full, row-major.
///
/// Computed as Σ_j p[j]·M[j, :] (row j equals column j by symmetry) in blocks of `MV_BLOCK`
/// outputs: each block's accumulators stay in registers across the sweep over j, so there is
/// no horizontal reduction and no store per step, unlike k separate dot products.
#[inline(always)]
pub(crate) fn sym_mat_vec<A: Arith>(m: &[f32], k: usize, p: &[f32], out: &mut [f32]) {
    let p = &p[..k];
    let mut start = 0;
    for block in out[..k].chunks_mut(MV_BLOCK) {
        let width = block.len();
        if width == MV_BLOCK {
            let mut acc = [0.0f32; MV_BLOCK];
            for (j, &pj) in p.iter().enumerate() {
                let row = &m[j * k + start..j * k + start + MV_BLOCK];
                let row: &[f32; MV_BLOCK] = row.try_into().expect("row block has MV_BLOCK");
                for t in 0..MV_BLOCK {
                    acc[t] = A::mul_add(pj, row[t], acc[t]);
                }
            }
            block.copy_from_slice(&acc);
        } else {
            block.fill(0.0);
            for (j, &pj) in p.iter().enumerate() {
                axpy::<A>(pj, &m[j * k + start..j * k + start + width], block);
            }
        }
        start += width;
    }
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

    #[test]
    fn dot_matches_a_naive_sum_for_every_tail_length() {
        for n in [0, 1, 5, 15, 16, 17, 31, 64, 70, 128] {
            let (a, b) = (ramp(n, 0.05), ramp(n + 3, 0.02));
            let got = f64::from(dot::<Plain>(&a, &b[..n]));
            assert!((got - naive_dot(&a, &b[..n])).abs() < 1e-4, "n={n}");
            let fused = f64::from(dot::<Fused>(&a, &b[..n]));
            assert!((fused - naive_dot(&a, &b[..n])).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    fn sym_mat_vec_matches_row_dots_for_odd_sizes() {
        for k in [1, 3, 32, 40, 64, 65] {
            let mut m = vec![0.0f32; k * k];
            for i in 0..k {
                for j in 0..=i {
                    let v = ((i * 13 + j * 7) % 11) as f32 * 0.1;
                    m[i * k + j] = v;
                    m[j * k + i] = v;
                }
            }
            let p = ramp(k, 0.1);
            let mut out = vec![f32::NAN; k];
            sym_mat_vec::<Plain>(&m, k, &p, &mut out);
            for i in 0..k {
                let want = naive_dot(&m[i * k..(i + 1) * k], &p);
                assert!((f64::from(out[i]) - want).abs() < 1e-4, "k={k} i={i}");
            }
        }
    }
}
