//! The online layer's wiring, shared by `recd serve` and `recd recommend`: the feature store
//! named by the config, the model watcher (over a remote model store's local copy, kept by
//! `recd-model-store`'s mirror, when `[models] store` is one), and each newly served model's item factors handed
//! to the nearline fold-in (`recd-stream`), which the engine may not link. Kept apart from
//! `serve.rs` so the roles' setup can change independently.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use recd_features::{EmbeddedStore, FeatureConfig, FeatureStore, RedisStore};
use recd_model::als::Gram;
use recd_model_store::mirror::{Mirror, MirrorTask, OnStatus};
use recd_model_store::{ModelStoreConfig, StoreError};
use recd_online::Online;
use recd_online::model_watch::{ModelWatcher, OnLoad, Served, StoreStatus, WatchConfig};
use recd_serve::ServeConfig;
use recd_stream::{ItemFactors, SharedFactors};
use recd_types::{ItemId, UserId};

use super::model_store::Opened;

/// What keeps the served model current: the watcher of the models directory and, for a remote
/// store, the task that keeps the directory a copy of it. Dropping it stops both.
pub struct Watchers {
    _mirror: Option<MirrorTask>,
    _models: ModelWatcher,
}

/// Loads the current model (if any) and keeps watching the model registry; with a remote
/// `[models] store`, the directory watched is the store's local copy, pulled first and then
/// every `[models] poll_ms`. The returned guard stops the tasks when dropped.
pub async fn start(
    data_dir: &Path,
    config: &ServeConfig,
    store: &ModelStoreConfig,
    online: &Online,
    factors: Arc<SharedFactors>,
) -> anyhow::Result<Watchers> {
    let opened = Opened::open(store, data_dir)?;
    let models_dir = opened.local_dir(data_dir);
    let mirror = match opened.remote {
        Some(remote) => {
            let (slot, url) = (online.models.clone(), remote.url().to_string());
            let on_status: OnStatus = Arc::new(move |result: Result<(), &StoreError>| {
                slot.set_store_status(StoreStatus {
                    url: url.clone(),
                    error: result.err().map(|e| e.to_string()),
                });
            });
            online.models.set_store_status(StoreStatus {
                url: remote.url().to_string(),
                error: Some("not polled yet".into()),
            });
            let poll = Duration::from_millis(store.poll_ms.max(10));
            Some(
                Mirror::new(remote, models_dir.clone(), poll, on_status)
                    .start()
                    .await,
            )
        }
        None => None,
    };
    let rc = &config.recommend;
    let watch = WatchConfig {
        models_dir,
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
    let models = ModelWatcher::start(
        online.models.clone(),
        online.catalog_source(),
        watch,
        Some(on_load),
    )
    .await;
    Ok(Watchers {
        _mirror: mirror,
        _models: models,
    })
}

/// The fold-in's view of a model: item factors, their Gram matrix with the training λ, α,
/// and who was trained until when.
pub fn item_factors(served: &Served) -> Option<ItemFactors> {
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

/// The feature store `[features] store` names: the embedded one, or Redis.
pub fn open_features(config: FeatureConfig) -> anyhow::Result<Arc<dyn FeatureStore>> {
    if config.store == "embedded" {
        return Ok(Arc::new(EmbeddedStore::new(config)));
    }
    let url = config.store.clone();
    let store = RedisStore::open(&url, config).with_context(|| format!("feature store {url:?}"))?;
    Ok(Arc::new(store))
}
