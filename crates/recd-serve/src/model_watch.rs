//! Hot model swap: the model being served sits in an [`ModelSlot`] (an `arc-swap` cell), and a
//! background task ([`ModelWatcher`]) polls `models/CURRENT` and swaps a new version in.
//!
//! Readers take a snapshot (`Arc<Served>`) with one atomic load and keep it for the whole
//! request, so a request that started on the old model finishes on it, and no request ever
//! waits for a load: the new version is read and checked on a blocking thread, its derived
//! lists are built there too, and only the finished value is swapped in. A version that fails
//! to load leaves the old model in place; it is logged once and retried only when `CURRENT`
//! names another version (or the server restarts), so a broken artifact cannot cause a
//! reload storm.
//!
//! The same task refreshes the catalog view (availability, sponsored flags, items added after
//! training) every `catalog_refresh_ms`, so deleted items stop being recommended within that
//! delay without a catalog read per candidate on the request path.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use recd_model::Model;
use recd_model::artifact::{Manifest, registry};
use recd_model::pipeline::CandidateConfig;
use recd_store::Store;

use crate::catalog_view::CatalogView;
use crate::cold::Lists;
use crate::postprocess::Live;
use crate::recommend::RecommendConfig;

/// A model ready to serve, with everything derived from it at load time.
pub struct Served {
    /// The model.
    pub model: Model,
    /// Its manifest (training parameters, data window).
    pub manifest: Manifest,
    /// Popular lists by category and demographic segment (cold start, fallback).
    pub lists: Lists,
    /// Each row's live state as the model saw it at training time: what post-processing
    /// reads until a catalog view for this model exists.
    pub(crate) trained_live: Vec<Live>,
    /// The candidate quotas the model was evaluated with (its manifest's `[train.candidates]`).
    pub candidates: CandidateConfig,
}

impl Served {
    /// The version string.
    pub fn version(&self) -> &str {
        &self.model.version
    }

    /// The quotas to serve with: `[serve.recommend.candidates]` when set, else the model's own.
    pub fn quotas(&self, config: &RecommendConfig) -> CandidateConfig {
        config.candidates.unwrap_or(self.candidates)
    }

    /// Loads `version` from `models_dir` and derives its lists; `store` supplies the user
    /// profiles for the demographic segments.
    pub fn load(
        models_dir: &Path,
        version: &str,
        verify: bool,
        store: &Store,
    ) -> Result<Self, recd_model::ModelError> {
        let dir = registry::version_dir(models_dir, version);
        let manifest = Manifest::read(&dir)?;
        let model = Model::load(&dir, verify)?;
        let candidates = manifest.candidates()?;
        let lists = Lists::build(&model, store);
        // Sorted lists, item records and indexes, off the request path.
        model.prepare();
        Ok(Self {
            trained_live: CatalogView::trained_rows(&model),
            model,
            manifest,
            lists,
            candidates,
        })
    }
}

/// The cell holding the served model and the catalog view. Cheap to read from any thread.
#[derive(Default)]
pub struct ModelSlot {
    served: ArcSwapOption<Served>,
    catalog: ArcSwapOption<CatalogView>,
}

impl ModelSlot {
    /// The model being served, if one is loaded.
    pub fn get(&self) -> Option<Arc<Served>> {
        self.served.load_full()
    }

    /// The catalog view, if it was built for the served model's version.
    pub fn catalog(&self, served: &Served) -> Option<Arc<CatalogView>> {
        self.catalog
            .load_full()
            .filter(|c| c.model_version == served.version())
    }

    /// Swaps `served` in (tests and the watcher).
    pub fn set(&self, served: Option<Arc<Served>>) {
        self.served.store(served);
    }

    /// Replaces the catalog view.
    pub fn set_catalog(&self, view: Arc<CatalogView>) {
        self.catalog.store(Some(view));
    }
}

/// Settings of the watcher (from `[serve.recommend]`).
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// `<data-dir>/models`.
    pub models_dir: PathBuf,
    /// How often `CURRENT` is read.
    pub poll: Duration,
    /// How often the catalog view is rebuilt.
    pub catalog_refresh: Duration,
    /// Recompute file checksums when loading.
    pub verify: bool,
}

/// Called with each newly served model (the binary uses it to hand the item factors to the
/// nearline fold-in, which lives in a crate this one must not depend on).
pub type OnLoad = Arc<dyn Fn(&Arc<Served>) + Send + Sync>;

/// Owns the background task; dropping it stops the task.
pub struct ModelWatcher {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ModelWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ModelWatcher {
    /// Loads the current model (if any) before returning, so a server that starts with a
    /// trained model answers its first request with it, then keeps watching in the background.
    pub async fn start(
        slot: Arc<ModelSlot>,
        store: Arc<Store>,
        config: WatchConfig,
        on_load: Option<OnLoad>,
    ) -> Self {
        let mut state = Watch {
            slot,
            store,
            config,
            on_load,
            last_tried: None,
            last_catalog: Instant::now(),
        };
        state.tick().await;
        state.refresh_catalog().await;
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(state.config.poll);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                state.tick().await;
                if state.last_catalog.elapsed() >= state.config.catalog_refresh {
                    state.refresh_catalog().await;
                }
            }
        });
        Self { task }
    }
}

struct Watch {
    slot: Arc<ModelSlot>,
    store: Arc<Store>,
    config: WatchConfig,
    on_load: Option<OnLoad>,
    /// The version named by `CURRENT` at the last attempt, loaded or not.
    last_tried: Option<String>,
    last_catalog: Instant,
}

impl Watch {
    async fn tick(&mut self) {
        let dir = self.config.models_dir.clone();
        let current = match tokio::task::spawn_blocking(move || registry::current(&dir)).await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read models/CURRENT; keeping the served model");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "model watcher task failed");
                return;
            }
        };
        let Some(version) = current else { return };
        if self.last_tried.as_deref() == Some(version.as_str()) {
            return;
        }
        self.last_tried = Some(version.clone());
        let (dir, verify, store) = (
            self.config.models_dir.clone(),
            self.config.verify,
            self.store.clone(),
        );
        let v = version.clone();
        let started = Instant::now();
        let loaded =
            tokio::task::spawn_blocking(move || Served::load(&dir, &v, verify, &store)).await;
        match loaded {
            Ok(Ok(served)) => {
                let served = Arc::new(served);
                let (als, content) = (
                    served.model.als_index().summary(),
                    served.model.content_index().summary(),
                );
                if let Some(f) = &self.on_load {
                    f(&served);
                }
                self.slot.set(Some(served));
                self.refresh_catalog().await;
                metrics::counter!("recd_model_swaps_total").increment(1);
                tracing::info!(
                    model_version = %version,
                    load_ms = started.elapsed().as_millis() as u64,
                    als_index = als.0,
                    als_recall_at_10 = als.1,
                    content_index = content.0,
                    content_recall_at_10 = content.1,
                    "model loaded and swapped in"
                );
            }
            Ok(Err(e)) => tracing::error!(
                model_version = %version,
                error = %e,
                "model failed to load; still serving the previous one"
            ),
            Err(e) => tracing::error!(error = %e, "model load task failed"),
        }
    }

    async fn refresh_catalog(&mut self) {
        self.last_catalog = Instant::now();
        let Some(served) = self.slot.get() else {
            return;
        };
        let generation = self.store.catalog().items_generation();
        if self
            .slot
            .catalog(&served)
            .is_some_and(|view| view.catalog_generation == generation)
        {
            return;
        }
        let store = self.store.clone();
        let built =
            tokio::task::spawn_blocking(move || CatalogView::build(&served.model, &store)).await;
        match built {
            Ok(Ok(view)) => {
                self.slot.set_catalog(Arc::new(view));
                metrics::counter!("recd_catalog_view_builds_total").increment(1);
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "catalog view not refreshed"),
            Err(e) => tracing::warn!(error = %e, "catalog view task failed"),
        }
    }
}
