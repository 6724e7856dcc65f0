//! `recd serve`'s online layer wiring: start the model watcher, and hand each newly served
//! model's item factors to the nearline fold-in (`recd-stream`), which `recd-serve` may not
//! link. Kept apart from `serve.rs` so the two roles' setup can change independently.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use recd_model::als::Gram;
use recd_serve::ServeConfig;
use recd_serve::model_watch::{ModelWatcher, OnLoad, Served, WatchConfig};
use recd_serve::recommend::Online;
use recd_store::Store;
use recd_stream::{ItemFactors, SharedFactors};
use recd_types::{ItemId, UserId};

/// Loads the current model (if any) and keeps watching the model registry; the returned guard
/// stops the watcher when dropped.
pub async fn start(
    data_dir: &Path,
    config: &ServeConfig,
    online: &Online,
    store: &Arc<Store>,
    factors: Arc<SharedFactors>,
) -> ModelWatcher {
    let rc = &config.recommend;
    let watch = WatchConfig {
        models_dir: data_dir.join("models"),
        poll: Duration::from_millis(rc.model_poll_ms.max(10)),
        catalog_refresh: Duration::from_millis(rc.catalog_refresh_ms.max(10)),
        verify: rc.verify_model,
        max_resident_models: config.max_resident_models,
    };
    let on_load: OnLoad = Arc::new(move |served: &Arc<Served>| match item_factors(served) {
        Some(f) => factors.set(Some(f)),
        None => tracing::warn!(
            model_version = served.version(),
            "no readable ALS parameters or event weights in the manifest; the fold-in keeps the previous factors"
        ),
    });
    ModelWatcher::start(online.models.clone(), store.clone(), watch, Some(on_load)).await
}

/// The fold-in's view of a model: item factors, their Gram matrix with the training λ, α,
/// and who was trained until when.
fn item_factors(served: &Served) -> Option<ItemFactors> {
    let model = &served.model;
    let als = served.manifest.params.get("als")?;
    let regularization = als.get("regularization")?.as_f64()? as f32;
    let alpha = als.get("alpha")?.as_f64()? as f32;
    let gram = Gram::compute(&model.item_factors, regularization).ok()?;
    let weights = served.manifest.event_weights().ok()?;
    let item_index = (0..model.n_items() as u32)
        .filter_map(|i| Some((ItemId::parse(model.items.name(i)).ok()?, i)))
        .collect();
    let trained_users: HashSet<UserId> = (0..model.users.len() as u32)
        .filter_map(|u| UserId::parse(model.users.name(u)).ok())
        .collect();
    Some(ItemFactors {
        model_version: model.version.clone(),
        trained_until_ms: served.manifest.data_window_ms.1,
        item_index,
        factors: model.item_factors.clone(),
        gram,
        alpha,
        trained_users,
        weights,
    })
}
