//! A/B experiments: which variant of which experiment a user is in, and what that variant
//! changes in the engine.
//!
//! Assignment is consistent hashing, so it needs no state and is the same in every process:
//! a user's bucket in a layer is `hash(layer, user) mod 10,000`, and an experiment owns a
//! range of its layer's buckets (`layer_buckets`, the whole layer by default); ranges of the
//! experiments of one layer must not overlap, so a user is in at most one experiment per layer
//! and starting an experiment never moves users of another. Inside an experiment the user's
//! bucket is `hash(salt, user) mod 10,000` — independent between experiments with different
//! salts — and the variants own consecutive ranges in the order they are listed, sized by
//! their shares. Ramping moves the boundaries only: with two variants (control and a canary),
//! users move only from the shrinking variant to the growing one.
//!
//! A variant changes `[serve.recommend]` keys (`recommend`, merged over the base settings and
//! checked by the same type: a key that does not exist or does not parse is an error naming
//! it), answers with a built-in non-personal list (`baseline`: `popular` or `trending`), or
//! answers with another model version (`model`: the registry's `CANDIDATE`, which servers load
//! only while some running variant names it). A variant whose model is not resident is
//! answered by `CURRENT`, and its impressions say so (they carry the version that answered).

pub mod admin;
pub mod guard;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::RecommendConfig;

/// Buckets of a layer and of an experiment.
pub const BUCKETS: u32 = 10_000;

/// An experiment as configured (`[experiments.<name>]`, or the admin API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Salt of the variant hash: change it to reshuffle users.
    pub salt: String,
    /// `draft` (nobody assigned), `running` or `stopped` (nobody assigned; kept for reports).
    #[serde(default)]
    pub status: Status,
    /// Experiments in one layer exclude each other; different layers run at once.
    #[serde(default = "default_layer")]
    pub layer: String,
    /// The range of the layer's buckets this experiment takes, `[from, to)`.
    #[serde(default = "whole_layer")]
    pub layer_buckets: [u32; 2],
    /// The variants, in bucket order; shares sum to 100.
    pub variants: Vec<VariantSpec>,
}

/// An experiment's lifecycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Defined, assigning nobody.
    #[default]
    Draft,
    /// Assigning users.
    Running,
    /// Ended: assigning nobody.
    Stopped,
}

/// One arm of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    /// Name (the response's `variant` is `"<experiment>/<variant>"`).
    pub name: String,
    /// Percent of the experiment's users.
    pub share: f64,
    /// Answer with a built-in list instead of the personal pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// `[serve.recommend]` keys this variant changes.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub recommend: serde_json::Map<String, serde_json::Value>,
    /// The model version this variant is answered with (`CURRENT` when absent). Only the
    /// registry's `CURRENT` and `CANDIDATE` can be named: they are the versions a server holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// A built-in non-personal list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// The model's precomputed popular list.
    Popular,
    /// The model's trending list.
    Trending,
}

fn default_layer() -> String {
    "default".into()
}

fn whole_layer() -> [u32; 2] {
    [0, BUCKETS]
}

/// What is wrong with a set of experiments, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ExperimentError {
    /// Dotted path of the offending field (`experiments.<name>.variants[1].share`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn err(field: String, message: impl Into<String>) -> ExperimentError {
    ExperimentError {
        field,
        message: message.into(),
    }
}

/// A variant ready to serve: its settings merged over the base ones.
#[derive(Debug, Clone)]
pub struct Variant {
    /// `"<experiment>/<variant>"`.
    pub label: String,
    /// Its `[serve.recommend]` settings.
    pub config: RecommendConfig,
    /// The built-in list it answers with, if any.
    pub baseline: Option<Baseline>,
    /// The model version it is answered with, when not `CURRENT`.
    pub model: Option<String>,
    /// Its buckets, `[from, to)`.
    buckets: [u32; 2],
}

/// A running experiment, compiled.
#[derive(Debug, Clone)]
struct Experiment {
    salt: String,
    layer: String,
    layer_buckets: [u32; 2],
    variants: Vec<Arc<Variant>>,
}

/// Every running experiment, ready for assignment.
#[derive(Debug, Clone, Default)]
pub struct Experiments {
    /// By layer name (sorted: the first layer's variant is the response's `variant`).
    layers: BTreeMap<String, Vec<Experiment>>,
    /// Every experiment as defined, drafts and stopped ones included (reports read them).
    specs: BTreeMap<String, ExperimentSpec>,
}

impl Experiments {
    /// An experiment's definition, whatever its status.
    pub fn spec(&self, name: &str) -> Option<&ExperimentSpec> {
        self.specs.get(name)
    }

    /// Checks `specs` and merges each variant's settings over `base`. Drafts and stopped
    /// experiments are checked too, but assign nobody.
    pub fn compile(
        specs: &BTreeMap<String, ExperimentSpec>,
        base: &RecommendConfig,
    ) -> Result<Self, ExperimentError> {
        let base_json =
            serde_json::to_value(base).map_err(|e| err("serve.recommend".into(), e.to_string()))?;
        let mut out = Experiments {
            specs: specs.clone(),
            ..Default::default()
        };
        for (name, spec) in specs {
            let at = format!("experiments.{name}");
            check_name(&at, name)?;
            let [from, to] = spec.layer_buckets;
            if from >= to || to > BUCKETS {
                return Err(err(
                    format!("{at}.layer_buckets"),
                    format!("[{from}, {to}) is not a range within [0, {BUCKETS})"),
                ));
            }
            if spec.variants.is_empty() {
                return Err(err(
                    format!("{at}.variants"),
                    "an experiment needs variants",
                ));
            }
            let total: f64 = spec.variants.iter().map(|v| v.share).sum();
            if (total - 100.0).abs() > 1e-6 {
                return Err(err(
                    format!("{at}.variants"),
                    format!("shares sum to {total}, not 100"),
                ));
            }
            let mut variants = Vec::with_capacity(spec.variants.len());
            let mut start = 0f64;
            for (k, v) in spec.variants.iter().enumerate() {
                let vat = format!("{at}.variants[{k}]");
                check_name(&format!("{vat}.name"), &v.name)?;
                if spec.variants[..k].iter().any(|w| w.name == v.name) {
                    return Err(err(
                        format!("{vat}.name"),
                        format!("{:?} is used twice", v.name),
                    ));
                }
                if !(v.share.is_finite() && v.share >= 0.0) {
                    return Err(err(
                        format!("{vat}.share"),
                        "must be a percentage from 0 to 100",
                    ));
                }
                if let Some(model) = &v.model {
                    check_name(&format!("{vat}.model"), model)?;
                    if v.baseline.is_some() {
                        return Err(err(
                            format!("{vat}.model"),
                            "a baseline variant answers with a built-in list, not a model",
                        ));
                    }
                }
                let config = merged(&base_json, &v.recommend)
                    .map_err(|e| err(format!("{vat}.recommend{}", e.0), e.1))?;
                let end = start + v.share;
                let buckets = [
                    (start * f64::from(BUCKETS) / 100.0).round() as u32,
                    (end * f64::from(BUCKETS) / 100.0).round() as u32,
                ];
                start = end;
                variants.push(Arc::new(Variant {
                    label: format!("{name}/{}", v.name),
                    config,
                    baseline: v.baseline,
                    model: v.model.clone(),
                    buckets,
                }));
            }
            if spec.status != Status::Running {
                continue;
            }
            let layer = out.layers.entry(spec.layer.clone()).or_default();
            if let Some(other) = layer
                .iter()
                .find(|e| overlap(e.layer_buckets, spec.layer_buckets))
            {
                return Err(err(
                    format!("{at}.layer_buckets"),
                    format!(
                        "overlaps running experiment {:?} in layer {:?}: experiments of a layer take disjoint bucket ranges",
                        other.variants[0]
                            .label
                            .split('/')
                            .next()
                            .unwrap_or_default(),
                        spec.layer
                    ),
                ));
            }
            layer.push(Experiment {
                salt: spec.salt.clone(),
                layer: spec.layer.clone(),
                layer_buckets: spec.layer_buckets,
                variants,
            });
        }
        Ok(out)
    }

    /// True when no experiment is running.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The model versions running variants name (what a server must hold beside `CURRENT`).
    pub fn models(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .layers
            .values()
            .flatten()
            .flat_map(|e| e.variants.iter().filter_map(|v| v.model.as_deref()))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The variants `unit` (a user id, or a session or device id for anonymous users) is in,
    /// one per layer at most, in layer order.
    pub fn assign(&self, unit: &str) -> Vec<Arc<Variant>> {
        let mut out = Vec::new();
        for (layer, experiments) in &self.layers {
            let b = bucket(layer, unit);
            let Some(e) = experiments
                .iter()
                .find(|e| (e.layer_buckets[0]..e.layer_buckets[1]).contains(&b))
            else {
                continue;
            };
            debug_assert_eq!(&e.layer, layer);
            let v = bucket(&e.salt, unit);
            if let Some(variant) = e
                .variants
                .iter()
                .find(|x| (x.buckets[0]..x.buckets[1]).contains(&v))
            {
                out.push(variant.clone());
            }
        }
        out
    }
}

/// Checks that every model a variant of `spec` names is one of `served` (the registry's
/// `CURRENT` and `CANDIDATE`): a version a server would not hold cannot be experimented on.
/// The error names the field relative to the definition (`variants[1].model`).
pub fn check_models(spec: &ExperimentSpec, served: &[&str]) -> Result<(), ExperimentError> {
    for (k, v) in spec.variants.iter().enumerate() {
        if let Some(model) = &v.model
            && !served.contains(&model.as_str())
        {
            return Err(err(
                format!("variants[{k}].model"),
                format!(
                    "{model:?} is neither the registry's CURRENT nor its CANDIDATE ({}); stage a version with `recd models stage` first",
                    if served.is_empty() {
                        "there is no model".to_string()
                    } else {
                        served.join(", ")
                    }
                ),
            ));
        }
    }
    Ok(())
}

fn overlap(a: [u32; 2], b: [u32; 2]) -> bool {
    a[0] < b[1] && b[0] < a[1]
}

/// Names go into labels and metric labels: letters, digits, `_`, `-`, `.`.
fn check_name(field: &str, name: &str) -> Result<(), ExperimentError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(err(
            field.to_string(),
            format!("{name:?} must be 1 to 64 letters, digits, '_', '-' or '.'"),
        ))
    }
}

/// `overrides` merged over `base` (tables deeply), as a `RecommendConfig`; an error names the
/// path inside the overrides (`.diversity`) and what is wrong.
fn merged(
    base: &serde_json::Value,
    overrides: &serde_json::Map<String, serde_json::Value>,
) -> Result<RecommendConfig, (String, String)> {
    let mut value = base.clone();
    merge(&mut value, &serde_json::Value::Object(overrides.clone()));
    let text = value.to_string();
    let de = &mut serde_json::Deserializer::from_str(&text);
    let res: Result<RecommendConfig, _> = serde_path_to_error::deserialize(de);
    res.map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            String::new()
        } else {
            format!(".{path}")
        };
        (path, e.inner().to_string())
    })
}

fn merge(into: &mut serde_json::Value, from: &serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// `hash(key, unit) mod BUCKETS`: FNV-1a over `key`, a separator and `unit`, then a 64-bit
/// finaliser (splitmix64) so that neighbouring ids spread over all buckets. Stable across
/// processes, platforms and versions: assignments depend on it.
pub fn bucket(key: &str, unit: &str) -> u32 {
    let mut h = recd_types::fnv1a(key.bytes().chain([0xff]).chain(unit.bytes()));
    h = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^= h >> 31;
    (h % u64::from(BUCKETS)) as u32
}

#[cfg(test)]
mod tests;
