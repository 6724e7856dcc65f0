//! [`Model`]: everything the online pipeline needs, loaded from one version directory.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::als::Factors;
use crate::ann::AnnIndex;
use crate::artifact::{Manifest, arrays};
use crate::content::ContentEncoder;
use crate::context::ContextLift;
use crate::csr::Csr;
use crate::ids::IdIndex;
use crate::ranker::Ranker;

/// No category (`item_category` value).
pub const NO_CATEGORY: u32 = u32::MAX;
/// Unknown creation time (`item_created_ms` value).
pub const UNKNOWN_TIME: i64 = i64::MIN;

/// Scoring parameters chosen at training time (they shape the features the ranker learned
/// on, so serving must use the same values).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoringParams {
    /// How many of the user's most recent positive items feed the item-kNN and content scores.
    pub history_len: usize,
    /// Half-life, in positions from the newest, of a history item's weight in the
    /// recency-weighted item-kNN score (the newest item has weight 1 + floor).
    pub recency_half_life: f32,
    /// Weight every history item keeps however old it is.
    pub recency_floor: f32,
    /// Most items one history item's item-kNN score reaches: of the items that have it among
    /// their neighbours, those most similar to it (0: all). A popular item is the neighbour of
    /// hundreds of items, most of them weakly similar, and updating every one of them was the
    /// largest single cost of a served answer on the 1M × 100k model (`pipeline_cost`
    /// counts the updates; figures in BENCHMARKS.md). Absent from models trained before it existed: those
    /// keep every one, as they were trained.
    #[serde(default)]
    pub reverse_neighbors: usize,
}

impl Default for ScoringParams {
    fn default() -> Self {
        Self {
            history_len: 200,
            recency_half_life: 10.0,
            recency_floor: 0.3,
            reverse_neighbors: 50,
        }
    }
}

/// Per-item metadata the features need, by item row.
#[derive(Debug, Clone, Default)]
pub struct ItemMeta {
    /// Category names; `category` values index into it.
    pub categories: Vec<String>,
    /// Category of each item, or [`NO_CATEGORY`].
    pub category: Vec<u32>,
    /// Creation time of each item, or [`UNKNOWN_TIME`].
    pub created_ms: Vec<i64>,
    /// Price of each item, NaN when unknown.
    pub price: Vec<f32>,
    /// False for items that must not be recommended (unavailable in the catalog at training
    /// time; the online layer also checks the live catalog).
    pub available: Vec<bool>,
}

/// A trained model in memory.
#[derive(Debug, Clone)]
pub struct Model {
    /// The version (directory name); empty for a model built in memory and not yet saved.
    pub version: String,
    /// User rows.
    pub users: IdIndex,
    /// Item rows.
    pub items: IdIndex,
    /// ALS user vectors (rows = users).
    pub user_factors: Factors,
    /// ALS item vectors (rows = items).
    pub item_factors: Factors,
    /// Item-to-item neighbours: row i = i's top-k `(j, cosine)`.
    pub neighbors: Csr,
    /// The transpose of `neighbors`: row j = the items i that have j among their top k, the
    /// [`ScoringParams::reverse_neighbors`] most similar of them.
    pub neighbors_rev: Csr,
    /// Each user's interactions in time order: `(item, weight)`; weight > 0 is a positive
    /// signal (its strength), weight ≤ 0 a negative one (disliked, skipped, rated low).
    pub history: Csr,
    /// Last event time of each user in the training data (ms).
    pub user_last_ms: Vec<i64>,
    /// log(1 + interaction count) of each item.
    pub popularity: Vec<f32>,
    /// log(1 + time-decayed interaction count at the end of the data window).
    pub trending: Vec<f32>,
    /// Unit content vectors, `items × encoder.dim`, row-major.
    pub content: Vec<f32>,
    /// How content vectors are made.
    pub encoder: ContentEncoder,
    /// Item metadata for features and rules.
    pub meta: ItemMeta,
    /// The ranker.
    pub ranker: Ranker,
    /// A cheaper ranker trained on the same examples (logistic regression beside an MLP), for
    /// answering under overload instead of falling back to the popular list (seed 001's
    /// "model simplification"). `None` when the ranker is already the light kind, or for a
    /// model saved before it existed. Stored as `ranker_light.json`.
    pub light_ranker: Option<Ranker>,
    /// Category lifts per device, page, hour and segment (the ranker's context features).
    /// Empty for a model saved before it existed. Stored as `context_lift.json`.
    pub context: ContextLift,
    /// Scoring parameters.
    pub params: ScoringParams,
    /// Sorted lists and indexes computed from the arrays on first use
    /// ([`Model::orders`], [`Model::content_index`]); `Default::default()` when building.
    pub derived: crate::derived::Derived,
}

/// Small JSON side file with what is not an array.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Side {
    encoder: ContentEncoder,
    params: ScoringParams,
    categories: Vec<String>,
}

impl Model {
    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    /// The content vector of item row `i`.
    pub fn content_of(&self, i: u32) -> &[f32] {
        let d = self.encoder.dim;
        &self.content[i as usize * d..(i as usize + 1) * d]
    }

    /// Writes every file of the model into `dir` (the manifest is written by the caller).
    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        self.users.write(&dir.join("users.ids"))?;
        self.items.write(&dir.join("items.ids"))?;
        let f = &self.user_factors;
        arrays::write(
            &dir.join("user_factors.arr"),
            &[f.n_rows(), f.n_factors()],
            f.as_slice(),
        )?;
        let f = &self.item_factors;
        arrays::write(
            &dir.join("item_factors.arr"),
            &[f.n_rows(), f.n_factors()],
            f.as_slice(),
        )?;
        self.neighbors.write(dir, "neighbors")?;
        self.history.write(dir, "history")?;
        arrays::write(
            &dir.join("user_last_ms.arr"),
            &[self.user_last_ms.len()],
            &self.user_last_ms,
        )?;
        arrays::write(
            &dir.join("popularity.arr"),
            &[self.popularity.len()],
            &self.popularity,
        )?;
        arrays::write(
            &dir.join("trending.arr"),
            &[self.trending.len()],
            &self.trending,
        )?;
        arrays::write(
            &dir.join("content.arr"),
            &[self.n_items(), self.encoder.dim],
            &self.content,
        )?;
        arrays::write(
            &dir.join("item_category.arr"),
            &[self.n_items()],
            &self.meta.category,
        )?;
        arrays::write(
            &dir.join("item_created_ms.arr"),
            &[self.n_items()],
            &self.meta.created_ms,
        )?;
        arrays::write(
            &dir.join("item_price.arr"),
            &[self.n_items()],
            &self.meta.price,
        )?;
        let available: Vec<u32> = self.meta.available.iter().map(|&a| u32::from(a)).collect();
        arrays::write(
            &dir.join("item_available.arr"),
            &[self.n_items()],
            &available,
        )?;
        // The indexes are built here if they were not yet (training time), so the artifact
        // carries the index whose recall was measured.
        self.als_index().save(dir, "als_index")?;
        self.content_index().save(dir, "content_index")?;
        write_json(&dir.join("ranker.json"), &self.ranker)?;
        write_json(&dir.join("context_lift.json"), &self.context)?;
        // One entry per user whatever was set, as every per-user array.
        let segments: Vec<u32> = (0..self.users.len())
            .map(|u| self.context.user_segment.get(u).copied().unwrap_or(0))
            .collect();
        arrays::write(&dir.join("user_segment.arr"), &[segments.len()], &segments)?;
        if let Some(light) = &self.light_ranker {
            write_json(&dir.join("ranker_light.json"), light)?;
        }
        let side = Side {
            encoder: self.encoder,
            params: self.params,
            categories: self.meta.categories.clone(),
        };
        write_json(&dir.join("model.json"), &side)
    }

    /// Loads the model in `dir`, checking the manifest's format version and every shape.
    /// With `verify`, file checksums are recomputed first (slower; catches bit rot).
    pub fn load(dir: &Path, verify: bool) -> Result<Self, ModelError> {
        let manifest = Manifest::read(dir)?;
        if verify {
            manifest.verify(dir)?;
        }
        let users = IdIndex::read(&dir.join("users.ids"))?;
        let items = IdIndex::read(&dir.join("items.ids"))?;
        let (n_users, n_items) = (users.len(), items.len());
        let side: Side = read_json(&dir.join("model.json"))?;
        let user_factors = read_factors(&dir.join("user_factors.arr"), n_users)?;
        let item_factors = read_factors(&dir.join("item_factors.arr"), n_items)?;
        if user_factors.n_factors() != item_factors.n_factors() {
            return Err(ModelError::Artifact(format!(
                "{}: user and item factors differ in width",
                dir.display()
            )));
        }
        let neighbors = Csr::read(dir, "neighbors", n_items)?;
        let history = Csr::read(dir, "history", n_items)?;
        let names = &crate::pipeline::features::NAMES;
        let mut ranker: Ranker = read_json(&dir.join("ranker.json"))?;
        ranker.validate()?;
        ranker.bind(names)?;
        let light_path = dir.join("ranker_light.json");
        let light_ranker = if light_path.exists() {
            let mut light: Ranker = read_json(&light_path)?;
            light.validate()?;
            if light.features != ranker.features {
                return Err(ModelError::Shape(
                    "ranker_light.json was trained on other features than ranker.json".into(),
                ));
            }
            light.bind(names)?;
            Some(light)
        } else {
            None
        };
        let context_path = dir.join("context_lift.json");
        let mut context: ContextLift = if context_path.exists() {
            read_json(&context_path)?
        } else {
            ContextLift::default()
        };
        let segments_path = dir.join("user_segment.arr");
        if segments_path.exists() {
            context.user_segment = read_vec(&segments_path, n_users)?;
        }
        context.prepare(side.categories.len())?;
        let model = Model {
            version: manifest.version.clone(),
            neighbors_rev: neighbors.reverse(n_items, side.params.reverse_neighbors),
            neighbors,
            history,
            user_last_ms: read_vec(&dir.join("user_last_ms.arr"), n_users)?,
            popularity: read_vec(&dir.join("popularity.arr"), n_items)?,
            trending: read_vec(&dir.join("trending.arr"), n_items)?,
            content: read_vec(&dir.join("content.arr"), n_items * side.encoder.dim)?,
            meta: ItemMeta {
                category: read_vec(&dir.join("item_category.arr"), n_items)?,
                created_ms: read_vec(&dir.join("item_created_ms.arr"), n_items)?,
                price: read_vec(&dir.join("item_price.arr"), n_items)?,
                available: read_vec::<u32>(&dir.join("item_available.arr"), n_items)?
                    .into_iter()
                    .map(|a| a != 0)
                    .collect(),
                categories: side.categories,
            },
            encoder: side.encoder,
            params: side.params,
            users,
            items,
            user_factors,
            item_factors,
            ranker,
            light_ranker,
            context,
            derived: Default::default(),
        };
        model.check()?;
        let dim = model.item_factors.n_factors();
        if let Some(index) = AnnIndex::load(dir, "als_index", model.item_factors.as_slice(), dim)? {
            let _ = model.derived.als_index.set(index);
        }
        let dim = model.encoder.dim;
        if let Some(index) = AnnIndex::load(dir, "content_index", &model.content, dim)? {
            let _ = model.derived.content_index.set(index);
        }
        Ok(model)
    }

    /// Cross-checks shapes that the loader cannot see file by file.
    pub fn check(&self) -> Result<(), ModelError> {
        let n_cat = self.meta.categories.len() as u32;
        let n = self.n_items();
        let meta = &self.meta;
        let lens = [
            meta.category.len(),
            meta.created_ms.len(),
            meta.price.len(),
            meta.available.len(),
        ];
        if lens.iter().any(|&l| l != n) || self.popularity.len() != n || self.trending.len() != n {
            return Err(ModelError::Shape(
                "per-item arrays do not cover every item".into(),
            ));
        }
        if self.content.len() != n * self.encoder.dim || self.item_factors.n_rows() != n {
            return Err(ModelError::Shape(
                "content or item vectors do not cover every item".into(),
            ));
        }
        if self.history.n_rows() != self.users.len() || self.neighbors.n_rows() != self.n_items() {
            return Err(ModelError::Shape(
                "history or neighbour rows do not match the id lists".into(),
            ));
        }
        if self
            .meta
            .category
            .iter()
            .any(|&c| c != NO_CATEGORY && c >= n_cat)
        {
            return Err(ModelError::Shape("an item category is out of range".into()));
        }
        Ok(())
    }
}

fn read_factors(path: &Path, n_rows: usize) -> Result<Factors, ModelError> {
    let (dims, data) = arrays::read::<f32>(path)?;
    if dims.len() != 2 || dims[0] != n_rows {
        return Err(ModelError::Artifact(format!(
            "{}: shape {dims:?}, expected {n_rows} rows",
            path.display()
        )));
    }
    Factors::from_vec(dims[0], dims[1], data)
}

fn read_vec<T: arrays::Element>(path: &Path, len: usize) -> Result<Vec<T>, ModelError> {
    let (_, data) = arrays::read::<T>(path)?;
    if data.len() != len {
        return Err(ModelError::Artifact(format!(
            "{}: {} values, expected {len}",
            path.display(),
            data.len()
        )));
    }
    Ok(data)
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ModelError> {
    let text = serde_json::to_string(value).map_err(|e| ModelError::Artifact(e.to_string()))?;
    std::fs::write(path, text).map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ModelError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::ScoringParams;

    #[test]
    fn a_model_trained_before_the_reverse_neighbour_cap_keeps_every_one() {
        let old: ScoringParams = serde_json::from_str(
            r#"{"history_len": 200, "recency_half_life": 10.0, "recency_floor": 0.3}"#,
        )
        .unwrap();
        assert_eq!(old.reverse_neighbors, 0);
        assert_eq!(ScoringParams::default().reverse_neighbors, 50);
        let none: ScoringParams = serde_json::from_str("{}").unwrap();
        assert_eq!(none.history_len, ScoringParams::default().history_len);
    }
}
