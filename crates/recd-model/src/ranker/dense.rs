//! The ranker's dense layers over every candidate row at once: `out = act(X · Wᵀ + b)`.
//!
//! Hand-written in place of `matrixmultiply::sgemm`, measured: at the ranker's shapes (~735
//! candidate rows through 19-128-64-32-1) sgemm packs both operands on every call, and packing
//! was a large share of the ranker's time in a profile of `recd serve` on the 1M × 100k model
//! (`pack_avx512` beside the multiply kernel itself). Here the weights are
//! transposed once per model (`Wᵀ`, `n_in × n_out`: one input's weights to every output are
//! contiguous), the rows are read where they are, and bias and ReLU are applied while a tile
//! is still in registers. Before/after figures: bench/runs/2026-11-23.md ("Ranker forward pass").
//!
//! A tile is `R` rows × `C` vectors of outputs held in registers; each input step loads `C`
//! weight vectors and broadcasts `R` inputs into `R·C` FMAs. AVX-512 tiles are 8 rows × 2
//! vectors (16 of 32 registers), AVX2/FMA tiles 6 × 2 (12 of 16: the BLIS Haswell shape),
//! chosen after a run-time CPU check; plain Rust covers other CPUs and widths the vectors do
//! not divide. Every path sums each output in input order starting from zero and adds the bias
//! last, so they differ only by FMA rounding.

use crate::als::kernels::dot_rows;

/// One layer's operands, checked by [`layer`]: `x` is `m × n_in`, `wt` is `n_in × n_out`,
/// `bias` has `n_out` entries; `relu` selects the activation.
#[derive(Clone, Copy)]
struct Operands<'a> {
    x: &'a [f32],
    n_in: usize,
    wt: &'a [f32],
    n_out: usize,
    bias: &'a [f32],
    relu: bool,
}

/// `out = act(x · Wᵀ + bias)` for the row-major `x` (`m × n_in`) and the transposed weights
/// `wt` (`n_in × n_out`, row-major); `act` is ReLU when `relu`, else the identity. `out` is
/// resized to `m × n_out` (it keeps its allocation between calls).
pub(crate) fn layer(
    x: &[f32],
    n_in: usize,
    wt: &[f32],
    n_out: usize,
    bias: &[f32],
    relu: bool,
    out: &mut Vec<f32>,
) {
    assert!(
        n_in > 0 && n_out > 0,
        "a dense layer needs inputs and outputs"
    );
    assert_eq!(x.len() % n_in, 0, "rows of x are n_in wide");
    assert_eq!(wt.len(), n_in * n_out, "Wᵀ is n_in × n_out");
    assert_eq!(bias.len(), n_out, "one bias per output");
    let m = x.len() / n_in;
    let op = Operands {
        x,
        n_in,
        wt,
        n_out,
        bias,
        relu,
    };
    if n_out == 1 {
        // One output (the logit): a dot product per row.
        out.clear();
        dot_rows(x, wt, out);
        out.iter_mut()
            .for_each(|o| *o = activate(*o + bias[0], relu));
        return;
    }
    // Every element is written below: only growth needs filling.
    out.truncate(m * n_out);
    out.resize(m * n_out, 0.0);
    #[cfg(target_arch = "x86_64")]
    {
        if n_out.is_multiple_of(avx512::LANES) && std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above); shapes asserted above and
            // `out` sized to m × n_out, with n_out a multiple of the vector width.
            unsafe { avx512::layer(&op, out) };
            return;
        }
        if n_out.is_multiple_of(avx2::LANES)
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: as above, for AVX2 and FMA.
            unsafe { avx2::layer(&op, out) };
            return;
        }
    }
    portable(&op, out);
}

fn activate(v: f32, relu: bool) -> f32 {
    if relu { v.max(0.0) } else { v }
}

/// Plain Rust: each output row accumulates `x[k] · Wᵀ[k, :]` over the inputs.
fn portable(op: &Operands<'_>, out: &mut [f32]) {
    let rows = op.x.chunks_exact(op.n_in);
    for (row, o) in rows.zip(out.chunks_exact_mut(op.n_out)) {
        o.fill(0.0);
        for (&xv, w) in row.iter().zip(op.wt.chunks_exact(op.n_out)) {
            for (a, &wv) in o.iter_mut().zip(w) {
                *a += xv * wv;
            }
        }
        for (a, &b) in o.iter_mut().zip(op.bias) {
            *a = activate(*a + b, op.relu);
        }
    }
}

/// One SIMD build of the tiled layer. The two builds differ only in vector type, width,
/// intrinsics and rows per tile, so they are one text.
macro_rules! simd_layer {
    ($module:ident, $feature:literal, $vector:ty, $lanes:literal, $rows:literal,
     $zero:ident, $load:ident, $splat:ident, $fma:ident, $add:ident, $max:ident, $store:ident) => {
        #[cfg(target_arch = "x86_64")]
        mod $module {
            use std::arch::x86_64::*;

            use super::Operands;

            /// Floats per vector.
            pub(super) const LANES: usize = $lanes;
            /// Rows per full tile.
            const ROWS: usize = $rows;

            /// The tiled layer.
            ///
            /// # Safety
            /// The CPU has the module's features; `op`'s shapes are as [`super::layer`]
            /// checks, `out` is `m × n_out`, and `n_out % LANES == 0`.
            #[target_feature(enable = $feature)]
            pub(super) unsafe fn layer(op: &Operands<'_>, out: &mut [f32]) {
                let m = out.len() / op.n_out;
                let mut r = 0;
                // SAFETY (all calls): rows r..r+R exist in `x` and `out`; the caller's shapes.
                while r + ROWS <= m {
                    unsafe { rows::<ROWS>(op, out, r) };
                    r += ROWS;
                }
                while r < m {
                    unsafe { rows::<1>(op, out, r) };
                    r += 1;
                }
            }

            /// Rows `r0..r0 + R`, every output.
            #[target_feature(enable = $feature)]
            #[inline]
            unsafe fn rows<const R: usize>(op: &Operands<'_>, out: &mut [f32], r0: usize) {
                let mut c = 0;
                // SAFETY (both calls): columns c..c + C·LANES are within n_out.
                while c + 2 * LANES <= op.n_out {
                    unsafe { tile::<R, 2>(op, out, r0, c) };
                    c += 2 * LANES;
                }
                if c < op.n_out {
                    unsafe { tile::<R, 1>(op, out, r0, c) };
                }
            }

            /// Rows `r0..r0 + R` × outputs `c..c + C·LANES`, accumulated in registers.
            #[target_feature(enable = $feature)]
            #[inline]
            unsafe fn tile<const R: usize, const C: usize>(
                op: &Operands<'_>,
                out: &mut [f32],
                r0: usize,
                c: usize,
            ) {
                let &Operands {
                    x,
                    n_in,
                    wt,
                    n_out,
                    bias,
                    relu,
                } = op;
                debug_assert!((r0 + R) * n_in <= x.len() && (r0 + R) * n_out <= out.len());
                debug_assert!(c + C * LANES <= n_out && wt.len() == n_in * n_out);
                let xp = x.as_ptr();
                let wp = wt.as_ptr();
                let mut acc: [[$vector; C]; R] = [[$zero(); C]; R];
                for k in 0..n_in {
                    let mut w: [$vector; C] = [$zero(); C];
                    for (j, wj) in w.iter_mut().enumerate() {
                        // SAFETY: k < n_in and c + j·LANES + LANES <= n_out: inside `wt`.
                        *wj = unsafe { $load(wp.add(k * n_out + c + j * LANES)) };
                    }
                    for (r, row) in acc.iter_mut().enumerate() {
                        // SAFETY: row r0 + r < m and k < n_in: inside `x`.
                        let xv = $splat(unsafe { *xp.add((r0 + r) * n_in + k) });
                        for (a, wj) in row.iter_mut().zip(&w) {
                            *a = $fma(xv, *wj, *a);
                        }
                    }
                }
                let zero = $zero();
                for (r, row) in acc.iter().enumerate() {
                    for (j, a) in row.iter().enumerate() {
                        let col = c + j * LANES;
                        // SAFETY: col + LANES <= n_out: inside `bias` and row r0 + r of `out`.
                        unsafe {
                            let mut v = $add(*a, $load(bias.as_ptr().add(col)));
                            if relu {
                                v = $max(v, zero);
                            }
                            $store(out.as_mut_ptr().add((r0 + r) * n_out + col), v);
                        }
                    }
                }
            }
        }
    };
}

simd_layer!(
    avx512,
    "avx512f",
    __m512,
    16,
    8,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps,
    _mm512_max_ps,
    _mm512_storeu_ps
);

simd_layer!(
    avx2,
    "avx2,fma",
    __m256,
    8,
    6,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_add_ps,
    _mm256_max_ps,
    _mm256_storeu_ps
);

/// `W` (`n_out × n_in`, row-major, as stored) transposed to `Wᵀ` (`n_in × n_out`), negligible
/// weights as 0 ([`super::negligible_as_zero`]: models trained before training flushed them
/// hold hundreds of subnormal weights, each a microcode assist per multiply on Intel cores).
pub(crate) fn transpose(w: &[f32], n_in: usize, n_out: usize) -> Vec<f32> {
    let mut t = vec![0.0; w.len()];
    for (o, row) in w.chunks_exact(n_in).enumerate().take(n_out) {
        for (i, &v) in row.iter().enumerate() {
            t[i * n_out + o] = super::negligible_as_zero(v);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook layer in f64, from the stored (untransposed) weights.
    fn reference(
        x: &[f32],
        n_in: usize,
        w: &[f32],
        n_out: usize,
        b: &[f32],
        relu: bool,
    ) -> Vec<f64> {
        x.chunks_exact(n_in)
            .flat_map(|row| {
                (0..n_out).map(move |o| {
                    let s: f64 = row
                        .iter()
                        .zip(&w[o * n_in..(o + 1) * n_in])
                        .map(|(a, b)| f64::from(*a) * f64::from(*b))
                        .sum::<f64>()
                        + f64::from(b[o]);
                    if relu { s.max(0.0) } else { s }
                })
            })
            .collect()
    }

    fn ramp(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 + seed * 104_729) % 61) as f32 / 30.0 - 1.0)
            .collect()
    }

    fn check(got: &[f32], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "element {k}: {g} vs {w}"
            );
        }
    }

    type Layer = fn(&Operands<'_>, &mut [f32]);

    fn operands<'a>(
        x: &'a [f32],
        n_in: usize,
        wt: &'a [f32],
        n_out: usize,
        bias: &'a [f32],
        relu: bool,
    ) -> Operands<'a> {
        Operands {
            x,
            n_in,
            wt,
            n_out,
            bias,
            relu,
        }
    }

    /// Every shape class a path must handle: full and partial row tiles, one- and two-vector
    /// column tiles, widths no vector divides, one output, one input.
    fn each_shape(mut run: impl FnMut(&[f32], usize, &[f32], usize, &[f32], bool) -> Vec<f32>) {
        for (m, n_in, n_out) in [
            (0, 3, 16),
            (1, 1, 16),
            (5, 19, 128),
            (17, 128, 64),
            (13, 64, 32),
            (7, 32, 1),
            (9, 10, 48),
            (3, 7, 5),
            (11, 16, 8),
        ] {
            let x = ramp(m * n_in, 1);
            let w = ramp(n_out * n_in, 2);
            let b = ramp(n_out, 3);
            for relu in [false, true] {
                let got = run(&x, n_in, &transpose(&w, n_in, n_out), n_out, &b, relu);
                check(&got, &reference(&x, n_in, &w, n_out, &b, relu));
            }
        }
    }

    #[test]
    fn negligible_weights_are_laid_out_as_zero_and_score_the_same() {
        let (n_in, n_out) = (3, 16);
        let mut w = ramp(n_out * n_in, 2);
        for k in (0..w.len()).step_by(5) {
            let tiny = [f32::MIN_POSITIVE / 3.0, 1e-30, 9e-21][k % 3];
            w[k] = tiny * if k % 2 == 0 { 1.0 } else { -1.0 };
        }
        let t = transpose(&w, n_in, n_out);
        assert!(t.iter().all(|v| !v.is_subnormal()));
        for k in (0..w.len()).step_by(5) {
            let (o, i) = (k / n_in, k % n_in);
            assert_eq!(t[i * n_out + o], 0.0);
        }
        let (x, b) = (ramp(4 * n_in, 1), ramp(n_out, 3));
        let mut out = vec![0.0; 4 * n_out];
        layer(&x, n_in, &t, n_out, &b, false, &mut out);
        check(&out, &reference(&x, n_in, &w, n_out, &b, false));
    }

    #[test]
    fn dispatched_layer_matches_the_reference() {
        let mut out = vec![7.0; 3]; // stale contents must not leak into the result
        each_shape(|x, n_in, wt, n_out, b, relu| {
            layer(x, n_in, wt, n_out, b, relu, &mut out);
            out.clone()
        });
    }

    #[test]
    fn portable_layer_matches_the_reference() {
        each_shape(|x, n_in, wt, n_out, b, relu| {
            let mut out = vec![0.0; x.len() / n_in * n_out];
            portable(&operands(x, n_in, wt, n_out, b, relu), &mut out);
            out
        });
    }

    #[cfg(target_arch = "x86_64")]
    fn simd_matches_the_reference(lanes: usize, run: Layer) {
        each_shape(|x, n_in, wt, n_out, b, relu| {
            let mut out = vec![0.0; x.len() / n_in * n_out];
            let op = operands(x, n_in, wt, n_out, b, relu);
            if n_out.is_multiple_of(lanes) {
                run(&op, &mut out);
            } else {
                portable(&op, &mut out);
            }
            out
        });
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_layer_matches_the_reference_where_the_cpu_has_it() {
        if std::arch::is_x86_feature_detected!("avx512f") {
            simd_matches_the_reference(avx512::LANES, |op, out| {
                // SAFETY: feature checked above; shapes from `each_shape`, n_out divisible.
                unsafe { avx512::layer(op, out) }
            });
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_layer_matches_the_reference_where_the_cpu_has_it() {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            simd_matches_the_reference(avx2::LANES, |op, out| {
                // SAFETY: features checked above; shapes from `each_shape`, n_out divisible.
                unsafe { avx2::layer(op, out) }
            });
        }
    }
}
