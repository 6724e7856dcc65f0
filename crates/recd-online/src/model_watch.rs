//! Hot model swap: the model being served sits in an [`ModelSlot`] (an `arc-swap` cell), and a
//! background task ([`ModelWatcher`]) polls the registry (`models/STATE.json`, see
//! `recd_model::artifact::registry`) and swaps a new `CURRENT` in.
//!
//! Readers take a snapshot (`Arc<Served>`) with one atomic load and keep it for the whole
//! request, so a request that started on the old model finishes on it, and no request ever
//! waits for a load: the new version is read and checked on a blocking thread, its derived
//! lists are built there too, and only the finished value is swapped in. A version that fails
//! to load leaves the old model in place; it is logged once and retried only when `CURRENT`
//! names another version (or the server restarts), so a broken artifact cannot cause a
//! reload storm.
//!
//! The registry's `CANDIDATE` is loaded only while traffic is routed to it
//! ([`ModelSlot::route_candidate`]): holding a second model costs as much memory as the first,
//! and nothing routes traffic to a candidate yet (the experiments' canary will, and read it
//! from [`ModelSlot::candidate`]). `[serve] max_resident_models` caps the versions held: a
//! candidate that would exceed it is not loaded, and its traffic is answered by `CURRENT`.
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
use recd_types::EventWeights;

use crate::catalog::CatalogSource;
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
    /// What each event means, as the model was trained (its manifest's `[train.weights]`):
    /// real-time history and negatives are read with these.
    pub weights: EventWeights,
    /// The scale of its history weights (`Manifest::relevance_confidence`).
    pub relevance_confidence: f32,
}

impl Served {
    /// The version string.
    pub fn version(&self) -> &str {
        &self.model.version
    }

    /// How it reads events (real-time history, negatives).
    pub fn meaning(&self) -> crate::recommend::state::Meaning<'_> {
        crate::recommend::state::Meaning {
            weights: &self.weights,
            relevance_confidence: self.relevance_confidence,
        }
    }

    /// The quotas to serve with: `[serve.recommend.candidates]` when set, else the model's own.
    pub fn quotas(&self, config: &RecommendConfig) -> CandidateConfig {
        config.candidates.unwrap_or(self.candidates)
    }

    /// Loads `version` from `models_dir` and derives its lists; `catalog` supplies the user
    /// profiles for the demographic segments.
    pub fn load(
        models_dir: &Path,
        version: &str,
        verify: bool,
        catalog: &dyn CatalogSource,
    ) -> Result<Self, recd_model::ModelError> {
        let dir = registry::version_dir(models_dir, version);
        let manifest = Manifest::read(&dir)?;
        let model = Model::load(&dir, verify)?;
        let candidates = manifest.candidates()?;
        let weights = manifest.event_weights()?;
        let relevance_confidence = manifest.relevance_confidence();
        let lists = Lists::build(&model, catalog);
        // Sorted lists, item records and indexes, off the request path.
        model.prepare();
        Ok(Self {
            trained_live: CatalogView::trained_rows(&model),
            model,
            manifest,
            lists,
            candidates,
            weights,
            relevance_confidence,
        })
    }
}

/// The cell holding the served model and the catalog view. Cheap to read from any thread.
#[derive(Default)]
pub struct ModelSlot {
    served: ArcSwapOption<Served>,
    catalog: ArcSwapOption<CatalogView>,
    candidate: ArcSwapOption<Served>,
    /// The candidate's own view: it answers with the same live catalog as `CURRENT`.
    candidate_catalog: ArcSwapOption<CatalogView>,
    candidate_traffic: std::sync::atomic::AtomicBool,
    store: ArcSwapOption<StoreStatus>,
}

/// The last poll of the remote model store the served versions are copied from (set by
/// whoever keeps the copy; this crate links no object-store client), for readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreStatus {
    /// The store's URL.
    pub url: String,
    /// Why the last poll failed; `None` when it succeeded.
    pub error: Option<String>,
}

impl ModelSlot {
    /// The model being served, if one is loaded.
    pub fn get(&self) -> Option<Arc<Served>> {
        self.served.load_full()
    }

    /// The catalog view, if one was built for `served`'s version (the current model's or the
    /// candidate's).
    pub fn catalog(&self, served: &Served) -> Option<Arc<CatalogView>> {
        [&self.catalog, &self.candidate_catalog]
            .into_iter()
            .filter_map(|cell| cell.load_full())
            .find(|c| c.model_version == served.version())
    }

    /// Swaps `served` in (tests and the watcher).
    pub fn set(&self, served: Option<Arc<Served>>) {
        self.served.store(served);
    }

    /// Replaces the catalog view.
    pub fn set_catalog(&self, view: Arc<CatalogView>) {
        self.catalog.store(Some(view));
    }

    /// The registry's candidate, when it is loaded (only while traffic is routed to it).
    pub fn candidate(&self) -> Option<Arc<Served>> {
        self.candidate.load_full()
    }

    /// The hook of gradual rollout: whether some traffic goes to the candidate. While true,
    /// the watcher loads the registry's candidate (within `max_resident_models`); when false
    /// again, it drops it. Nothing calls this yet: the experiments' router will.
    pub fn route_candidate(&self, on: bool) {
        self.candidate_traffic
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether traffic is routed to the candidate.
    pub fn candidate_routed(&self) -> bool {
        self.candidate_traffic
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records the outcome of the last poll of the remote model store.
    pub fn set_store_status(&self, status: StoreStatus) {
        self.store.store(Some(Arc::new(status)));
    }

    /// The last poll of the remote model store; `None` when models are not copied from one.
    pub fn store_status(&self) -> Option<Arc<StoreStatus>> {
        self.store.load_full()
    }

    /// The versions held in memory: the served one, then the candidate if loaded.
    pub fn resident(&self) -> Vec<String> {
        [self.get(), self.candidate()]
            .into_iter()
            .flatten()
            .map(|s| s.version().to_string())
            .collect()
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
    /// Most versions held at once (`[serve] max_resident_models`).
    pub max_resident_models: usize,
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
        catalog: Arc<dyn CatalogSource>,
        config: WatchConfig,
        on_load: Option<OnLoad>,
    ) -> Self {
        let mut state = Watch {
            slot,
            catalog,
            config,
            on_load,
            last_tried: None,
            last_tried_candidate: None,
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
    catalog: Arc<dyn CatalogSource>,
    config: WatchConfig,
    on_load: Option<OnLoad>,
    /// The version named by `CURRENT` at the last attempt, loaded or not.
    last_tried: Option<String>,
    /// The candidate at the last attempt to load one (or to refuse it over the cap).
    last_tried_candidate: Option<String>,
    last_catalog: Instant,
}

impl Watch {
    async fn tick(&mut self) {
        let dir = self.config.models_dir.clone();
        let state = match tokio::task::spawn_blocking(move || registry::state(&dir)).await {
            Ok(Ok(state)) => state,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the model registry; keeping the served model");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "model watcher task failed");
                return;
            }
        };
        // CURRENT first: a promoted candidate still resident is then reused, not reloaded.
        if let Some(version) = state.current {
            self.sync_current(version).await;
        }
        self.sync_candidate(state.candidate.as_deref()).await;
    }

    /// Loads `version` and swaps it in, unless it was the last one tried.
    async fn sync_current(&mut self, version: String) {
        if self.last_tried.as_deref() == Some(version.as_str()) {
            return;
        }
        self.last_tried = Some(version.clone());
        let (dir, verify, store) = (
            self.config.models_dir.clone(),
            self.config.verify,
            self.catalog.clone(),
        );
        let v = version.clone();
        let started = Instant::now();
        // A promoted candidate that is already resident is swapped in as it is, not loaded twice.
        let resident = self.slot.candidate().filter(|c| c.version() == version);
        let loaded = match resident {
            Some(served) => Ok(Ok(served)),
            None => {
                tokio::task::spawn_blocking(move || {
                    Served::load(&dir, &v, verify, &*store).map(Arc::new)
                })
                .await
            }
        };
        match loaded {
            Ok(Ok(served)) => {
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

    /// Loads or drops the candidate as [`candidate_step`] says.
    async fn sync_candidate(&mut self, candidate: Option<&str>) {
        let loaded = self.slot.candidate();
        let step = candidate_step(
            self.slot.candidate_routed(),
            candidate,
            loaded.as_ref().map(|s| s.version()),
            self.config.max_resident_models,
        );
        match step {
            CandidateStep::Keep => {}
            CandidateStep::Drop => {
                self.slot.candidate.store(None);
                self.slot.candidate_catalog.store(None);
                self.last_tried_candidate = None;
                tracing::info!(
                    "candidate model unloaded (no traffic routed to it, or no candidate)"
                );
            }
            CandidateStep::OverCap(version) => {
                if self.last_tried_candidate.as_deref() != Some(version) {
                    self.last_tried_candidate = Some(version.to_string());
                    tracing::warn!(
                        model_version = version,
                        max_resident_models = self.config.max_resident_models,
                        "candidate not loaded: it would exceed max_resident_models; CURRENT answers its traffic"
                    );
                }
            }
            CandidateStep::Load(version) => {
                if self.last_tried_candidate.as_deref() == Some(version) {
                    return;
                }
                self.last_tried_candidate = Some(version.to_string());
                let (dir, verify, store) = (
                    self.config.models_dir.clone(),
                    self.config.verify,
                    self.catalog.clone(),
                );
                let v = version.to_string();
                let loaded =
                    tokio::task::spawn_blocking(move || Served::load(&dir, &v, verify, &*store))
                        .await;
                match loaded {
                    Ok(Ok(served)) => {
                        let served = Arc::new(served);
                        self.slot.candidate.store(Some(served.clone()));
                        self.refresh_catalog_of(served, true).await;
                        tracing::info!(model_version = version, "candidate model loaded");
                    }
                    Ok(Err(e)) => tracing::error!(
                        model_version = version,
                        error = %e,
                        "candidate model failed to load; CURRENT answers its traffic"
                    ),
                    Err(e) => tracing::error!(error = %e, "candidate load task failed"),
                }
            }
        }
    }

    async fn refresh_catalog(&mut self) {
        self.last_catalog = Instant::now();
        if let Some(served) = self.slot.get() {
            self.refresh_catalog_of(served, false).await;
        }
        match self.slot.candidate() {
            Some(candidate) => self.refresh_catalog_of(candidate, true).await,
            None => self.slot.candidate_catalog.store(None),
        }
    }

    /// Rebuilds the view of `served` (the candidate's when `candidate`) if the catalog changed.
    async fn refresh_catalog_of(&mut self, served: Arc<Served>, candidate: bool) {
        let generation = self.catalog.items_generation();
        // Each role's own cell: a promoted candidate needs the current model's cell filled,
        // even though its candidate view (dropped next) matched.
        let cell = if candidate {
            &self.slot.candidate_catalog
        } else {
            &self.slot.catalog
        };
        if cell.load().as_ref().is_some_and(|view| {
            view.model_version == served.version() && view.catalog_generation == generation
        }) {
            return;
        }
        let store = self.catalog.clone();
        let built =
            tokio::task::spawn_blocking(move || CatalogView::build(&served.model, &*store)).await;
        match built {
            Ok(Ok(view)) => {
                if candidate {
                    self.slot.candidate_catalog.store(Some(Arc::new(view)));
                } else {
                    self.slot.set_catalog(Arc::new(view));
                }
                metrics::counter!("recd_catalog_view_builds_total").increment(1);
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "catalog view not refreshed"),
            Err(e) => tracing::warn!(error = %e, "catalog view task failed"),
        }
    }
}

/// What the watcher does about the candidate on one tick.
#[derive(Debug, PartialEq, Eq)]
enum CandidateStep<'a> {
    /// Nothing to change.
    Keep,
    /// Unload the candidate held (traffic no longer routed to it, or it left the registry).
    Drop,
    /// Load this version.
    Load(&'a str),
    /// This version is wanted but the cap forbids a second resident model.
    OverCap(&'a str),
}

/// The candidate is resident only while traffic is routed to it and the registry names it,
/// and only if `CURRENT` plus the candidate fit in `max_resident_models`.
fn candidate_step<'a>(
    routed: bool,
    registry: Option<&'a str>,
    loaded: Option<&str>,
    max_resident_models: usize,
) -> CandidateStep<'a> {
    match (routed.then_some(registry).flatten(), loaded) {
        (None, None) => CandidateStep::Keep,
        (None, Some(_)) => CandidateStep::Drop,
        (Some(want), Some(have)) if want == have => CandidateStep::Keep,
        // CURRENT always takes one slot; the candidate needs a second.
        (Some(want), _) if max_resident_models.max(1) < 2 => CandidateStep::OverCap(want),
        (Some(want), _) => CandidateStep::Load(want),
    }
}

#[cfg(test)]
mod tests {
    use super::{CandidateStep, candidate_step};

    #[test]
    fn the_candidate_is_resident_only_while_routed_and_within_the_cap() {
        use CandidateStep::*;
        let check = |routed, registry, loaded, cap, want| {
            assert_eq!(
                candidate_step(routed, registry, loaded, cap),
                want,
                "{routed} {registry:?} {loaded:?} {cap}"
            );
        };
        // No traffic routed: never loaded, and dropped if it was.
        check(false, Some("v2"), None, 2, Keep);
        check(false, Some("v2"), Some("v2"), 2, Drop);
        // Routed: loaded once, replaced when the registry names another, dropped when none.
        check(true, Some("v2"), None, 2, Load("v2"));
        check(true, Some("v2"), Some("v2"), 2, Keep);
        check(true, Some("v3"), Some("v2"), 2, Load("v3"));
        check(true, None, Some("v2"), 2, Drop);
        check(true, None, None, 2, Keep);
        // The cap: CURRENT alone fills one slot.
        check(true, Some("v2"), None, 1, OverCap("v2"));
        check(true, Some("v2"), None, 0, OverCap("v2"));
    }
}
