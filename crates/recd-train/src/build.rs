//! Builds an in-memory [`Model`] from a slice of interactions: every generator's data
//! (ALS factors, item neighbours, popularity, trending, content vectors), the per-user
//! histories and the item metadata. The ranker is trained separately and set afterwards.

use crate::progress::Progress;
use std::collections::HashMap;

use rayon::prelude::*;
use recd_model::content::ContentEncoder;
use recd_model::csr::Csr as ModelCsr;
use recd_model::ids::IdIndex;
use recd_model::ranker::{Layer, Ranker};
use recd_model::{ItemMeta, Model, NO_CATEGORY, UNKNOWN_TIME};

use crate::config::{Signal, TrainConfig};
use crate::dataset::{Dataset, Interaction};
use crate::external_als::{self, AlsSource};
use crate::{CsrBuilder, TrainError, als, knn};

const DAY_MS: f64 = 86_400_000.0;

/// One (user, item) pair after all its events are combined.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    /// Item row.
    pub item: u32,
    /// Time of the newest event.
    pub last_ts: i64,
    /// Summed (decayed) confidence of its positive events.
    pub confidence: f32,
    /// The newest event was a negative signal.
    pub negative: bool,
}

/// Per-user pairs, time-ascending by newest event.
pub fn pairs_by_user(
    n_users: usize,
    interactions: &[Interaction],
    config: &TrainConfig,
    end_ms: i64,
) -> Vec<Vec<Pair>> {
    let mut maps: Vec<HashMap<u32, Pair>> = vec![HashMap::new(); n_users];
    let mut sorted: Vec<&Interaction> = interactions.iter().collect();
    sorted.sort_by_key(|i| (i.user, i.ts, i.item));
    for i in sorted {
        let decay = config.decay_half_life_days.map_or(1.0, |hl| {
            0.5f64.powf((end_ms - i.ts).max(0) as f64 / DAY_MS / hl) as f32
        });
        let p = maps[i.user as usize].entry(i.item).or_insert(Pair {
            item: i.item,
            last_ts: i.ts,
            confidence: 0.0,
            negative: false,
        });
        p.last_ts = i.ts;
        if i.signal > 0.0 {
            p.confidence += i.signal * decay;
            p.negative = false;
        } else {
            p.negative = true;
        }
    }
    maps.into_iter()
        .map(|m| {
            let mut v: Vec<Pair> = m.into_values().collect();
            v.sort_by_key(|p| (p.last_ts, p.item));
            v
        })
        .collect()
}

/// Builds every generator's data from `interactions` (a slice of `ds`), counting ALS
/// iterations on `progress`.
pub fn build_model(
    ds: &Dataset,
    interactions: &[Interaction],
    config: &TrainConfig,
    progress: &dyn Progress,
) -> Result<Model, TrainError> {
    build_model_with(ds, interactions, config, AlsSource::Own, progress)
}

/// [`build_model`] with the ALS vectors from `als`.
pub fn build_model_with(
    ds: &Dataset,
    interactions: &[Interaction],
    config: &TrainConfig,
    als: AlsSource<'_>,
    progress: &dyn Progress,
) -> Result<Model, TrainError> {
    let (n_users, n_items) = (ds.users.len(), ds.items.len());
    let end_ms = interactions
        .iter()
        .map(|i| i.ts)
        .max()
        .unwrap_or(ds.window_ms.1);
    let pairs = pairs_by_user(n_users, interactions, config, end_ms);

    let t = std::time::Instant::now();
    let mut builder = CsrBuilder::with_capacity(interactions.len());
    for (u, list) in pairs.iter().enumerate() {
        for p in list.iter().filter(|p| !p.negative && p.confidence > 0.0) {
            builder.push(u as u32, p.item, p.confidence)?;
        }
    }
    let user_items = builder.build_with_shape(n_users, n_items)?;
    let als_model = match als {
        AlsSource::Own => {
            let als_config = config.als.to_config();
            let iterations = als_config.iterations as u64;
            als::fit(&user_items, &als_config, |s| {
                progress.advance("ALS iterations", s.iteration as u64 + 1, iterations)
            })?
        }
        AlsSource::Given(set) => {
            external_als::place(set, &user_items, &ds.users, &ds.items, config)?
        }
    };
    tracing::info!(
        seconds = t.elapsed().as_secs_f64(),
        nnz = user_items.nnz(),
        "ALS fitted"
    );

    let t = std::time::Instant::now();
    let neighbors = knn::build(&pairs, n_items, &config.item_knn);
    tracing::info!(
        seconds = t.elapsed().as_secs_f64(),
        nnz = neighbors.nnz(),
        "item neighbours built"
    );

    // The same weights the online engine gives real-time history (`Signal::history_weight`).
    let scale = config.relevance_min_confidence;
    let history = ModelCsr::from_rows(pairs.iter().map(|list| {
        list.iter().map(move |p| {
            let signal = if p.negative {
                Signal::Negative
            } else {
                Signal::Positive(p.confidence)
            };
            (p.item, signal.history_weight(scale).unwrap_or(0.0))
        })
    }));
    let mut user_last_ms = vec![0i64; n_users];
    for i in interactions {
        user_last_ms[i.user as usize] = user_last_ms[i.user as usize].max(i.ts);
    }
    let (popularity, trending) = popularity(
        &pairs,
        interactions,
        n_items,
        end_ms,
        config.trending_half_life_days,
    );
    let encoder = ContentEncoder {
        dim: config.content_dim,
    };
    let content: Vec<f32> = ds
        .catalog
        .par_iter()
        .flat_map_iter(|item| {
            item.as_ref()
                .map_or_else(|| vec![0.0; encoder.dim], |it| encoder.encode(it))
        })
        .collect();

    let meta = item_meta(ds);
    let context = crate::moment::lifts(
        &ds.vocabulary,
        interactions,
        &meta.category,
        meta.categories.len(),
    );
    let model = Model {
        version: String::new(),
        users: IdIndex::new(ds.users.clone())?,
        items: IdIndex::new(ds.items.clone())?,
        user_factors: als_model.user_factors,
        item_factors: als_model.item_factors,
        neighbors_rev: neighbors.reverse(n_items, config.scoring.reverse_neighbors),
        neighbors,
        history,
        user_last_ms,
        popularity,
        trending,
        content,
        encoder,
        meta,
        ranker: fixed_ranker(),
        light_ranker: None,
        context,
        params: config.scoring,
        derived: Default::default(),
    };
    model.check()?;
    Ok(model)
}

/// log(1 + users with a positive pair) and log(1 + decayed positive event count) per item.
fn popularity(
    pairs: &[Vec<Pair>],
    interactions: &[Interaction],
    n_items: usize,
    end_ms: i64,
    half_life_days: f64,
) -> (Vec<f32>, Vec<f32>) {
    let mut count = vec![0f32; n_items];
    for p in pairs.iter().flatten().filter(|p| !p.negative) {
        count[p.item as usize] += 1.0;
    }
    let mut trend = vec![0f64; n_items];
    for i in interactions.iter().filter(|i| i.signal > 0.0) {
        trend[i.item as usize] +=
            0.5f64.powf((end_ms - i.ts).max(0) as f64 / DAY_MS / half_life_days);
    }
    (
        count.iter().map(|c| c.ln_1p()).collect(),
        trend.iter().map(|t| t.ln_1p() as f32).collect(),
    )
}

fn item_meta(ds: &Dataset) -> ItemMeta {
    let mut categories: Vec<String> = Vec::new();
    let mut cat_rows: HashMap<String, u32> = HashMap::new();
    let mut meta = ItemMeta::default();
    for item in &ds.catalog {
        let cat = item.as_ref().and_then(|i| i.category.clone());
        meta.category.push(match cat {
            Some(c) => *cat_rows.entry(c.clone()).or_insert_with(|| {
                categories.push(c);
                categories.len() as u32 - 1
            }),
            None => NO_CATEGORY,
        });
        meta.created_ms.push(
            item.as_ref()
                .and_then(|i| i.created_at_ms)
                .unwrap_or(UNKNOWN_TIME),
        );
        meta.price.push(
            item.as_ref()
                .and_then(|i| i.price)
                .map_or(f32::NAN, |p| p as f32),
        );
        meta.available
            .push(item.as_ref().is_none_or(|i| i.available));
    }
    meta.categories = categories;
    meta
}

/// Hand-set weights used until a ranker is learned: the recency-weighted item-kNN score,
/// with ALS and popularity as tie-breakers (the best single signal on our validation runs).
pub fn fixed_ranker() -> Ranker {
    let names = recd_model::pipeline::features::NAMES;
    let mut weights = vec![0f32; names.len()];
    for (name, w) in [("knn_recent", 1.0), ("als", 0.2), ("popularity", 0.05)] {
        if let Some(k) = names.iter().position(|n| *n == name) {
            weights[k] = w;
        }
    }
    Ranker::new(
        names.iter().map(|s| s.to_string()).collect(),
        vec![0.0; names.len()],
        vec![1.0; names.len()],
        vec![Layer {
            n_in: names.len(),
            n_out: 1,
            weights,
            bias: vec![0.0],
        }],
        "fixed",
    )
}

#[cfg(test)]
mod tests {
    use recd_model::pipeline::{self, CandidateConfig, UserState};
    use recd_types::{Item, ItemId};

    use super::*;

    /// Two taste groups over six items; user 0 has seen items 0 and 1 of group A.
    fn dataset() -> Dataset {
        let mut interactions = Vec::new();
        for user in 0..20u32 {
            let group = if user % 2 == 0 {
                [0u32, 1, 2]
            } else {
                [3, 4, 5]
            };
            for (k, item) in group.iter().enumerate() {
                if user == 0 && *item == 2 {
                    continue;
                }
                let ts = 1_000_000 + i64::from(user) * 1000 + k as i64;
                interactions.push(Interaction {
                    user,
                    item: *item,
                    ts,
                    signal: 4.0,
                    ctx: Default::default(),
                });
            }
        }
        let catalog = (0..6)
            .map(|i| {
                let mut item =
                    Item::new(ItemId::parse(format!("i{i}")).unwrap(), format!("Item {i}"));
                item.category = Some(if i < 3 { "A" } else { "B" }.into());
                Some(item)
            })
            .collect();
        Dataset {
            users: (0..20).map(|u| format!("u{u}")).collect(),
            items: (0..6).map(|i| format!("i{i}")).collect(),
            catalog,
            window_ms: (1_000_000, 1_020_000),
            interactions,
            ..Dataset::default()
        }
    }

    /// The model of `ds` with 4 ALS factors.
    fn small_model(ds: &Dataset) -> Model {
        let config = TrainConfig {
            als: crate::config::AlsParams {
                factors: 4,
                ..Default::default()
            },
            ..Default::default()
        };
        build_model(ds, &ds.interactions, &config, &crate::train::LogProgress).unwrap()
    }

    #[test]
    fn indexed_and_exact_search_agree_and_pooled_signals_do_not_leak_between_requests() {
        let ds = dataset();
        let model = small_model(&ds);
        let cc = CandidateConfig::default();
        let alone: Vec<_> = (0..model.users.len() as u32)
            .map(|u| {
                let state = UserState::from_model(&model, u);
                pipeline::candidates_with(&model, &state, &cc, pipeline::Search::Exact)
            })
            .collect();
        // The same users again on this thread, in reverse, indexed: the per-thread scratch
        // of every earlier request must be clean, and a small catalog is searched exactly.
        for u in (0..model.users.len() as u32).rev() {
            let state = UserState::from_model(&model, u);
            let again = pipeline::candidates_with(&model, &state, &cc, pipeline::Search::Indexed);
            let first = &alone[u as usize];
            assert_eq!(again.items, first.items, "user {u}");
            assert_eq!(again.because, first.because, "user {u}");
            assert_eq!(again.features, first.features, "user {u}");
        }
    }

    /// `model` saved with a manifest in a new temporary dir, as a publish would leave it.
    fn saved(model: &Model, ds: &Dataset) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        model.save(dir.path()).unwrap();
        let mut manifest = recd_model::artifact::Manifest {
            format_version: recd_model::artifact::FORMAT_VERSION,
            version: "v1".into(),
            created_ms: 0,
            data_window_ms: ds.window_ms,
            params: serde_json::json!({}),
            metrics: serde_json::json!({}),
            files: Default::default(),
        };
        manifest.write(dir.path()).unwrap();
        dir
    }

    #[test]
    fn a_built_model_recommends_its_group_and_survives_save_and_load() {
        let ds = dataset();
        let model = small_model(&ds);
        let top = |m: &Model| {
            let state = UserState::from_model(m, 0);
            pipeline::recommend(m, &state, &CandidateConfig::default(), 1)[0].item
        };
        assert_eq!(top(&model), 2, "user 0's group A item they have not seen");

        let dir = saved(&model, &ds);
        let loaded = Model::load(dir.path(), true).unwrap();
        assert_eq!(top(&loaded), 2);
        // The indexes were saved with the model (exact at this size) and loaded back.
        assert!(dir.path().join("als_index.ann.json").exists());
        assert_eq!(loaded.als_index().kind(), "exact");
        assert_eq!(loaded.meta.available, model.meta.available);
        assert_eq!(loaded.neighbors, model.neighbors);
        assert_eq!(loaded.history, model.history);
        assert!(loaded.light_ranker.is_none());
    }

    /// A logistic ranker whose logit is `sign ×` feature `f`.
    fn by_feature(f: usize, sign: f32) -> recd_model::ranker::Ranker {
        let d = pipeline::features::NAMES.len();
        let mut weights = vec![0.0; d];
        weights[f] = sign;
        recd_model::ranker::Ranker::new(
            pipeline::features::NAMES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            vec![0.0; d],
            vec![1.0; d],
            vec![recd_model::ranker::Layer {
                n_in: d,
                n_out: 1,
                weights,
                bias: vec![0.0],
            }],
            "logistic",
        )
    }

    #[test]
    fn the_cascade_reranks_the_light_rankers_head_and_keeps_its_order_below() {
        let ds = dataset();
        let mut model = small_model(&ds);
        let state = UserState::from_model(&model, 0);
        let c = pipeline::candidates(&model, &state, &CandidateConfig::default());
        let n = c.items.len();
        assert!(n >= 3, "{n} candidates");
        let d = pipeline::features::NAMES.len();
        // A feature on which one candidate leads alone. The light ranker prefers high
        // values, the ranker low ones: wherever the ranker decides, the order turns around.
        let f = (0..d)
            .find(|&f| {
                let mut v: Vec<f32> = (0..n).map(|k| c.features[k * d + f]).collect();
                v.sort_by(|a, b| b.total_cmp(a));
                v[0] > v[1]
            })
            .expect("a feature with a single best candidate");
        model.light_ranker = Some(by_feature(f, 1.0));
        model.ranker = by_feature(f, -1.0);
        let pop = |k: u32| c.features[k as usize * d + f];
        // Candidate indexes by popularity, ties by item row.
        let by_pop = |sign: f32| -> Vec<u32> {
            let mut v: Vec<u32> = (0..n as u32).collect();
            v.sort_by(|&a, &b| {
                (sign * pop(b))
                    .total_cmp(&(sign * pop(a)))
                    .then(c.items[a as usize].cmp(&c.items[b as usize]))
            });
            v
        };
        let (light, full) = (by_pop(1.0), by_pop(-1.0));
        let order = |rerank: usize, depth: usize| -> Vec<u32> {
            let r = pipeline::ranked(&model, &c, rerank, depth);
            r.into_iter().map(|(k, _)| k).collect()
        };

        // No cascade (0, or a head as large as the candidates): the ranker alone.
        assert_eq!(order(0, n), full);
        assert_eq!(order(n, n), full);
        // A head of 2: the light ranker's best two, turned around by the ranker; below them
        // the light ranker's order.
        let cascade = order(2, n);
        assert_eq!(cascade[..2], [light[1], light[0]]);
        assert_eq!(cascade[2..], light[2..]);
        // Depth cuts the list; the head is re-ranked whatever the depth.
        assert_eq!(order(2, 1), [light[1]]);
    }

    #[test]
    fn a_light_ranker_is_saved_beside_the_ranker_and_must_share_its_features() {
        let ds = dataset();
        let mut model = small_model(&ds);
        let mut light = model.ranker.clone();
        light.kind = "logistic".into();
        model.light_ranker = Some(light);
        let dir = saved(&model, &ds);
        let loaded = Model::load(dir.path(), true).unwrap();
        assert_eq!(loaded.light_ranker, model.light_ranker);

        let light = model.light_ranker.as_mut().unwrap();
        light.features[0] = "not_a_feature".into();
        let dir = saved(&model, &ds);
        let err = Model::load(dir.path(), true).unwrap_err().to_string();
        assert!(err.contains("ranker_light.json"), "{err}");
    }

    /// A model saved before the context features existed: its ranker lists the 19 features
    /// it learned on, and it has no context tables. It loads, and ranks as it did.
    #[test]
    fn a_model_from_before_the_context_features_loads_and_ranks_as_it_did() {
        let ds = dataset();
        let mut model = small_model(&ds);
        let names = pipeline::features::NAMES;
        let old_names = &names[..19];
        assert_eq!(old_names.last(), Some(&"hour_cos"));
        let fixed = fixed_ranker();
        let old = Ranker::new(
            old_names.iter().map(|s| s.to_string()).collect(),
            vec![0.0; 19],
            vec![1.0; 19],
            vec![Layer {
                n_in: 19,
                n_out: 1,
                weights: fixed.layers()[0].weights[..19].to_vec(),
                bias: vec![0.0],
            }],
            "fixed",
        );
        model.ranker = old;
        let dir = saved(&model, &ds);
        std::fs::remove_file(dir.path().join("context_lift.json")).unwrap();
        std::fs::remove_file(dir.path().join("user_segment.arr")).unwrap();
        let loaded = Model::load(dir.path(), false).unwrap();
        assert!(loaded.context.keys.is_empty());
        model.ranker = fixed;
        let cc = CandidateConfig::default();
        for u in 0..ds.users.len() as u32 {
            let mut state = UserState::from_model(&model, u);
            state.moment.at_ms = Some(state.now_ms);
            let then = pipeline::recommend(&model, &state, &cc, 5);
            assert_eq!(
                pipeline::recommend(&loaded, &state, &cc, 5),
                then,
                "user {u}"
            );
        }
        // A ranker that needs a feature this build does not compute is refused by name.
        let mut future = loaded.ranker.clone();
        future.features[0] = "from_the_future".into();
        model.ranker = future;
        let dir = saved(&model, &ds);
        let err = Model::load(dir.path(), false).unwrap_err().to_string();
        assert!(err.contains("from_the_future"), "{err}");
    }
}
