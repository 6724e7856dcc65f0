//! The ranker: scores every candidate of a request in one batched pass.
//!
//! Two kinds, as the design asks: a multi-layer perceptron (hidden ReLU layers, sigmoid
//! output) and logistic regression, the light fallback. Both standardise their inputs with
//! the mean and deviation recorded at training time. Stored as `ranker.json` (about 13k
//! numbers for 128-64-32; JSON keeps it inspectable). Inference is hand-written: the ML crates
//! measured no faster for this size while costing minutes of compile time (DEPENDENCIES.md).

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
    /// Feature names in input order (must equal [`crate::features::NAMES`] of the build).
    pub features: Vec<String>,
    /// Per-feature mean subtracted before scoring.
    pub mean: Vec<f32>,
    /// Per-feature deviation divided by before scoring.
    pub std: Vec<f32>,
    /// Layers; ReLU between them, the last has one output (a logit). One layer = logistic
    /// regression.
    pub layers: Vec<Layer>,
    /// Human-readable kind: `logistic`, `mlp`, or `fixed` (hand-set weights, used when there
    /// was not enough data to learn).
    pub kind: String,
}

impl Ranker {
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

    /// Logits for `n` rows of features laid out row-major in `x` (`n × features.len()`).
    pub fn score(&self, x: &[f32]) -> Vec<f32> {
        let d = self.features.len();
        let n = x.len() / d.max(1);
        let mut cur: Vec<f32> = x
            .chunks_exact(d)
            .flat_map(|row| {
                row.iter()
                    .zip(&self.mean)
                    .zip(&self.std)
                    .map(|((v, m), s)| (v - m) / s)
            })
            .collect();
        // One GEMM per layer over all rows (out = X · Wᵀ): the per-row scalar loops this
        // replaces took ~80% of a request's CPU in a profile of `recd serve` on ml-100k
        // (1,000 candidates through 19-128-64-32-1).
        let mut next = Vec::new();
        for (li, layer) in self.layers.iter().enumerate() {
            crate::ann::products(&cur, &layer.weights, layer.n_in, &mut next);
            next.resize(n * layer.n_out, 0.0);
            let relu = li + 1 < self.layers.len();
            for out in next.chunks_exact_mut(layer.n_out) {
                for (o, b) in out.iter_mut().zip(&layer.bias) {
                    *o += b;
                    if relu {
                        *o = o.max(0.0);
                    }
                }
            }
            std::mem::swap(&mut cur, &mut next);
        }
        cur.truncate(n);
        cur
    }
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
        let mut bad = lr;
        bad.mean.pop();
        assert!(bad.validate().is_err());
    }
}
