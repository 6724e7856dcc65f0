//! The ranker's MLP for training: mini-batch forward and backward passes on `sgemm`, and Adam.
//!
//! Why batched GEMM: with per-example loops the ranker stage dominated `recd train` on
//! ml-100k; one `sgemm` per layer over a mini-batch runs the same arithmetic in a blocked,
//! vectorised kernel and made that stage several times faster.
//! Inference lives in `recd_model::ranker`, where a batch is one request's candidates.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use recd_model::ranker::{Layer, negligible_as_zero};

/// C (m×n) = alpha · A (m×k) · B (k×n) + beta · C, with explicit row and column strides.
#[allow(clippy::too_many_arguments)]
fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    rsa: usize,
    csa: usize,
    b: &[f32],
    rsb: usize,
    csb: usize,
    beta: f32,
    c: &mut [f32],
) {
    debug_assert!(c.len() >= m * n);
    // SAFETY: every pointer stays within its slice: the callers pass shapes and strides that
    // match the slices' lengths (checked in debug builds above and by the shape tests).
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// A dense ReLU network with one output logit.
#[derive(Clone)]
pub struct Net {
    /// Layers, input first.
    pub layers: Vec<Layer>,
}

impl Net {
    /// He-initialised layers of the given widths (input first, output 1 last).
    pub fn new(widths: &[usize], rng: &mut ChaCha8Rng) -> Self {
        let layers = widths
            .windows(2)
            .map(|w| {
                let scale = (2.0 / w[0] as f32).sqrt();
                Layer {
                    n_in: w[0],
                    n_out: w[1],
                    weights: (0..w[0] * w[1])
                        .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale * 0.5)
                        .collect(),
                    bias: vec![0.0; w[1]],
                }
            })
            .collect();
        Net { layers }
    }

    /// Zero gradients shaped like the layers.
    pub fn zeros_like(&self) -> Vec<Layer> {
        self.layers
            .iter()
            .map(|l| Layer {
                weights: vec![0.0; l.weights.len()],
                bias: vec![0.0; l.bias.len()],
                ..*l
            })
            .collect()
    }

    /// Activations of every layer for a batch `x` (b × n_in), input included.
    fn activations(&self, x: &[f32], b: usize) -> Vec<Vec<f32>> {
        let mut acts = vec![x.to_vec()];
        for (li, l) in self.layers.iter().enumerate() {
            let input = &acts[li];
            let mut out = vec![0f32; b * l.n_out];
            for row in out.chunks_exact_mut(l.n_out) {
                row.copy_from_slice(&l.bias);
            }
            // out (b×n_out) += input (b×n_in) · Wᵀ, W row-major n_out×n_in.
            gemm(
                b, l.n_in, l.n_out, input, l.n_in, 1, &l.weights, 1, l.n_in, 1.0, &mut out,
            );
            if li + 1 < self.layers.len() {
                out.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            acts.push(out);
        }
        acts
    }

    /// Logits for a batch.
    pub fn forward(&self, x: &[f32], b: usize) -> Vec<f32> {
        self.activations(x, b).pop().unwrap_or_default()
    }

    /// Adds the logistic-loss gradients of a batch (summed over examples) into `grads`.
    pub fn backward(&self, x: &[f32], y: &[f32], grads: &mut [Layer]) {
        let b = y.len();
        let acts = self.activations(x, b);
        let logits = &acts[self.layers.len()];
        let mut delta: Vec<f32> = logits
            .iter()
            .zip(y)
            .map(|(s, t)| 1.0 / (1.0 + (-s).exp()) - t)
            // An example fitted this closely teaches nothing, and its gradient, carried back
            // through the layers, underflows (slow on Intel cores, as the weights' flush says).
            .map(|d| if d.abs() < 1e-10 { 0.0 } else { d })
            .collect();
        for li in (0..self.layers.len()).rev() {
            let l = &self.layers[li];
            let input = &acts[li];
            let g = &mut grads[li];
            // dW (n_out×n_in) += deltaᵀ (n_out×b) · input (b×n_in).
            gemm(
                l.n_out,
                b,
                l.n_in,
                &delta,
                1,
                l.n_out,
                input,
                l.n_in,
                1,
                1.0,
                &mut g.weights,
            );
            for row in delta.chunks_exact(l.n_out) {
                for (gb, d) in g.bias.iter_mut().zip(row) {
                    *gb += d;
                }
            }
            if li > 0 {
                // delta_prev (b×n_in) = delta (b×n_out) · W (n_out×n_in), masked by ReLU.
                let mut prev = vec![0f32; b * l.n_in];
                gemm(
                    b, l.n_out, l.n_in, &delta, l.n_out, 1, &l.weights, l.n_in, 1, 0.0, &mut prev,
                );
                for (p, a) in prev.iter_mut().zip(input) {
                    if *a <= 0.0 {
                        *p = 0.0;
                    }
                }
                delta = prev;
            }
        }
    }
}

/// The Adam optimiser's state.
pub struct Adam {
    m: Vec<Layer>,
    v: Vec<Layer>,
    t: i32,
}

impl Adam {
    /// Fresh state for `net`.
    pub fn new(net: &Net) -> Self {
        Adam {
            m: net.zeros_like(),
            v: net.zeros_like(),
            t: 0,
        }
    }

    /// One step with gradients summed over `n` examples; L2 `l2` on weights, not biases.
    pub fn step(&mut self, net: &mut Net, grads: &[Layer], n: f32, lr: f32, l2: f32) {
        self.t += 1;
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let c1 = 1.0 - b1.powi(self.t);
        let c2 = 1.0 - b2.powi(self.t);
        let update = |w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], decay: f32| {
            for k in 0..w.len() {
                let gk = g[k] / n + decay * w[k];
                m[k] = b1 * m[k] + (1.0 - b1) * gk;
                v[k] = b2 * v[k] + (1.0 - b2) * gk * gk;
                w[k] = negligible_as_zero(w[k] - lr * (m[k] / c1) / ((v[k] / c2).sqrt() + eps));
                m[k] = negligible_as_zero(m[k]);
                v[k] = negligible_as_zero(v[k]);
            }
        };
        let layers = net.layers.iter_mut().zip(grads);
        for ((layer, g), (m, v)) in layers.zip(self.m.iter_mut().zip(self.v.iter_mut())) {
            update(
                &mut layer.weights,
                &g.weights,
                &mut m.weights,
                &mut v.weights,
                l2,
            );
            update(&mut layer.bias, &g.bias, &mut m.bias, &mut v.bias, 0.0);
        }
    }
}

/// A seeded generator for the MLP's initialisation and shuffling.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A weight with no gradient decays under L2 to exactly 0, never through the range where
    /// products underflow (slow on Intel cores), and neither do the optimiser's moments.
    #[test]
    fn unused_weights_decay_to_zero_not_to_subnormals() {
        let mut r = rng(5);
        let mut net = Net::new(&[2, 3, 1], &mut r);
        let mut adam = Adam::new(&net);
        let zero = net.zeros_like();
        let mut seen_zero = false;
        for _ in 0..200_000 {
            adam.step(&mut net, &zero, 1.0, 1e-3, 1e-2);
            let states = [&net.layers, &adam.m, &adam.v];
            for l in states.into_iter().flatten() {
                let tiny = |x: &f32| *x != 0.0 && x.abs() < 1e-20;
                assert!(!l.weights.iter().chain(&l.bias).any(tiny));
            }
            if net
                .layers
                .iter()
                .all(|l| l.weights.iter().all(|w| *w == 0.0))
            {
                seen_zero = true;
                break;
            }
        }
        assert!(
            seen_zero,
            "the weights did not reach 0: {:?}",
            net.layers[0].weights
        );
    }

    /// The batched backward pass equals finite differences of the summed loss.
    #[test]
    fn gradients_match_finite_differences() {
        let mut r = rng(3);
        let net = Net::new(&[3, 4, 2, 1], &mut r);
        let x: Vec<f32> = (0..2 * 3).map(|_| r.random::<f32>() * 2.0 - 1.0).collect();
        let y = [1.0f32, 0.0];
        let loss = |n: &Net| -> f64 {
            n.forward(&x, 2)
                .iter()
                .zip(&y)
                .map(|(s, t)| {
                    let (s, t) = (*s as f64, *t as f64);
                    (1.0 + (-s.abs()).exp()).ln() + s.max(0.0) - t * s
                })
                .sum()
        };
        let mut grads = net.zeros_like();
        net.backward(&x, &y, &mut grads);
        for (li, layer) in net.layers.iter().enumerate() {
            for k in 0..layer.weights.len() {
                let mut plus = net.clone();
                plus.layers[li].weights[k] += 1e-3;
                let mut minus = net.clone();
                minus.layers[li].weights[k] -= 1e-3;
                let numeric = (loss(&plus) - loss(&minus)) / 2e-3;
                let analytic = grads[li].weights[k] as f64;
                assert!(
                    (numeric - analytic).abs() < 1e-2 * (1.0 + numeric.abs()),
                    "layer {li} w{k}: {numeric} vs {analytic}"
                );
            }
        }
    }
}
