//! The ranker: scores every candidate of a request in one batched pass.
//!
//! Two kinds, as the design asks: a multi-layer perceptron (hidden ReLU layers, sigmoid
//! output) and logistic regression, the light fallback. Both standardise their inputs with
//! the mean and deviation recorded at training time. Stored as `ranker.json` (about 13k
//! numbers for 128-64-32; JSON keeps it inspectable). Inference is hand-written: the ML crates
//! measured no faster for this size while costing minutes of compile time (DEPENDENCIES.md),
//! and the dense layers are our own kernels (`dense`).

mod dense;

use std::cell::RefCell;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// One dense layer: `out = W · in + b`, `W` row-major `[n_out × n_in]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Inputs.
    pub n_in: usize,
    /// Outputs.
    pub n_out: usize,
    /// Weights, row-major by output.
    pub weights: Vec<f32>,
    /// Biases.
    pub bias: Vec<f32>,
}

/// The trained ranker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranker {
    /// Feature names in input order (must equal [`crate::pipeline::features::NAMES`] of the build).
    pub features: Vec<String>,
    /// Per-feature mean subtracted before scoring.
    mean: Vec<f32>,
    /// Per-feature deviation divided by before scoring.
    std: Vec<f32>,
    /// Layers; ReLU between them, the last has one output (a logit). One layer = logistic
    /// regression. Private, like the normalisation: [`Ranker::score`] caches a layout of
    /// them, which a change after the first score would leave stale.
    layers: Vec<Layer>,
    /// Human-readable kind: `logistic`, `mlp`, or `fixed` (hand-set weights, used when there
    /// was not enough data to learn).
    pub kind: String,
    /// The weights laid out for scoring, made on first use.
    #[serde(skip)]
    transposed: Transposed,
    /// How the ranker reads a feature row of this build ([`Ranker::bind`]).
    #[serde(skip)]
    columns: Columns,
}

/// Where the ranker's inputs sit in the feature rows it is given. A model trained before
/// this build added features stores the shorter list it learned on; it keeps working by
/// reading its own columns, by name, out of the longer rows.
#[derive(Debug, Clone, Default, PartialEq)]
enum Columns {
    /// The rows are exactly the ranker's features, in order.
    #[default]
    Own,
    /// Rows are `width` wide; input `k` is column `pick[k]`.
    Pick { width: usize, pick: Vec<usize> },
}

/// Each layer's `Wᵀ` (`n_in × n_out`), the layout [`dense::layer`] reads. A cache derived
/// from the layers, so it takes no part in equality or debug output, and a clone starts
/// empty (a clone may get other layers before its first score).
#[derive(Default)]
struct Transposed(OnceLock<Vec<Vec<f32>>>);

impl Clone for Transposed {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for Transposed {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Transposed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transposed")
    }
}

thread_local! {
    /// Per-thread layer buffers: a request's activations are ~0.4 MB at 735 candidates ×
    /// 128, and allocating them per call went back and forth to the kernel (page faults
    /// in the serving profile).
    static BUFFERS: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

impl Ranker {
    /// A ranker from its parts (call [`Ranker::validate`] before scoring untrusted ones).
    pub fn new(
        features: Vec<String>,
        mean: Vec<f32>,
        std: Vec<f32>,
        layers: Vec<Layer>,
        kind: impl Into<String>,
    ) -> Self {
        Self {
            features,
            mean,
            std,
            layers,
            kind: kind.into(),
            transposed: Transposed::default(),
            columns: Columns::Own,
        }
    }

    /// Makes the ranker read rows laid out as `names` (the pipeline's feature list), which
    /// may hold more features than it was trained on, in another order. An error names a
    /// feature it needs that `names` lacks (a model from a newer build).
    pub fn bind(&mut self, names: &[&str]) -> Result<(), ModelError> {
        if self
            .features
            .iter()
            .map(String::as_str)
            .eq(names.iter().copied())
        {
            self.columns = Columns::Own;
            return Ok(());
        }
        let pick = self
            .features
            .iter()
            .map(|f| {
                names.iter().position(|n| n == f).ok_or_else(|| {
                    ModelError::Shape(format!(
                        "the ranker uses the feature `{f}`, which this build does not compute"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.columns = Columns::Pick {
            width: names.len(),
            pick,
        };
        Ok(())
    }

    /// Makes the ranker read nothing from `feature`, whatever its value: its first-layer
    /// weights become 0 and its deviation 1 (a feature constant over the training examples
    /// got a zero deviation and weights that never learned, which a value seen only at
    /// serving would multiply). Unknown names are ignored.
    pub fn ignore(&mut self, feature: &str) {
        let Some(k) = self.features.iter().position(|f| f == feature) else {
            return;
        };
        self.std[k] = 1.0;
        if let Some(first) = self.layers.first_mut() {
            let n_in = first.n_in;
            first
                .weights
                .chunks_exact_mut(n_in)
                .for_each(|row| row[k] = 0.0);
        }
        self.transposed = Transposed::default();
    }

    /// Lays the weights out for scoring now rather than on the first [`Ranker::score`] (the
    /// server does it when it loads a model).
    pub fn prepare(&self) {
        self.transposed();
    }

    fn transposed(&self) -> &[Vec<f32>] {
        self.transposed.0.get_or_init(|| {
            self.layers
                .iter()
                .map(|l| dense::transpose(&l.weights, l.n_in, l.n_out))
                .collect()
        })
    }

    /// The layers, input first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Checks that shapes chain and match the feature list.
    pub fn validate(&self) -> Result<(), ModelError> {
        let d = self.features.len();
        if self.mean.len() != d || self.std.len() != d || self.layers.is_empty() {
            return Err(ModelError::Shape(
                "ranker normalisation does not match its features".into(),
            ));
        }
        let mut width = d;
        for layer in &self.layers {
            if layer.n_in != width
                || layer.weights.len() != layer.n_in * layer.n_out
                || layer.bias.len() != layer.n_out
            {
                return Err(ModelError::Shape("ranker layers do not chain".into()));
            }
            width = layer.n_out;
        }
        if width != 1 {
            return Err(ModelError::Shape("ranker must end in one output".into()));
        }
        Ok(())
    }

    /// Logits for `n` rows of features laid out row-major in `x` (`n × features.len()`, or
    /// as [`Ranker::bind`] said). One pass per layer over all rows (`dense::layer`); the
    /// per-row scalar loops this replaced took most of a request's CPU in a profile of
    /// `recd serve` on ml-100k.
    pub fn score(&self, x: &[f32]) -> Vec<f32> {
        let d = self.features.len();
        let width = match &self.columns {
            Columns::Own => d,
            Columns::Pick { width, .. } => *width,
        };
        let n = x.len() / width.max(1);
        if n == 0 {
            return Vec::new();
        }
        let transposed = self.transposed();
        BUFFERS.with(|buffers| {
            let (cur, next) = &mut *buffers.borrow_mut();
            cur.clear();
            match &self.columns {
                Columns::Own => cur.extend_from_slice(&x[..n * d]),
                Columns::Pick { pick, .. } => {
                    for row in x[..n * width].chunks_exact(width) {
                        cur.extend(pick.iter().map(|&c| row[c]));
                    }
                }
            }
            for row in cur.chunks_exact_mut(d) {
                for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                    *v = (*v - m) / s;
                }
            }
            for (li, (layer, wt)) in self.layers.iter().zip(transposed).enumerate() {
                let relu = li + 1 < self.layers.len();
                dense::layer(cur, layer.n_in, wt, layer.n_out, &layer.bias, relu, next);
                std::mem::swap(cur, next);
            }
            cur[..n].to_vec()
        })
    }
}

/// `w`, or 0 where it is negligible (|w| < 1e-20): a weight that small moves no score, whose
/// terms are products of standardized features near 1, and on Intel cores a multiply whose
/// result underflows into the subnormal range takes a microcode assist. Training flushes its
/// weights with this (an unused weight decays under L2 geometrically through that range), and
/// the serving layout flushes those of models trained before it did. Rust has no supported way
/// to set the CPU's flush-to-zero mode, hence the explicit flush.
#[inline]
pub fn negligible_as_zero(w: f32) -> f32 {
    if w.abs() < 1e-20 { 0.0 } else { w }
}

/// The logistic function.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_and_mlp_shapes() {
        let lr = Ranker {
            features: vec!["a".into(), "b".into()],
            mean: vec![1.0, 0.0],
            std: vec![2.0, 1.0],
            layers: vec![Layer {
                n_in: 2,
                n_out: 1,
                weights: vec![1.0, -1.0],
                bias: vec![0.5],
            }],
            kind: "logistic".into(),
            transposed: Transposed::default(),
            columns: Columns::Own,
        };
        lr.validate().unwrap();
        assert_eq!(lr.score(&[3.0, 1.0, 1.0, 0.0]), vec![0.5, 0.5]);
        let mlp = Ranker {
            layers: vec![
                Layer {
                    n_in: 2,
                    n_out: 2,
                    weights: vec![1.0, 0.0, 0.0, -1.0],
                    bias: vec![0.0, 0.0],
                },
                Layer {
                    n_in: 2,
                    n_out: 1,
                    weights: vec![1.0, 1.0],
                    bias: vec![0.0],
                },
            ],
            kind: "mlp".into(),
            ..lr.clone()
        };
        mlp.validate().unwrap();
        // (3-1)/2 = 1 -> relu 1; (1-0)/1 = 1 -> -1 -> relu 0; sum 1.
        assert_eq!(mlp.score(&[3.0, 1.0]), vec![1.0]);
        let mut bad = lr.clone();
        bad.mean.pop();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn a_ranker_reads_its_own_columns_of_wider_rows_by_name() {
        let mut lr = Ranker::new(
            vec!["a".into(), "b".into()],
            vec![1.0, 0.0],
            vec![2.0, 1.0],
            vec![Layer {
                n_in: 2,
                n_out: 1,
                weights: vec![1.0, -1.0],
                bias: vec![0.5],
            }],
            "logistic",
        );
        let own = lr.score(&[3.0, 1.0, 1.0, 0.0]);
        // The same two rows, laid out as a newer build would: c, b, a.
        lr.bind(&["c", "b", "a"]).unwrap();
        assert_eq!(lr.score(&[9.0, 1.0, 3.0, -9.0, 0.0, 1.0]), own);
        lr.bind(&["a", "b"]).unwrap();
        assert_eq!(lr.score(&[3.0, 1.0, 1.0, 0.0]), own);
        let err = lr.bind(&["a"]).unwrap_err().to_string();
        assert!(err.contains("`b`"), "{err}");
    }
}
