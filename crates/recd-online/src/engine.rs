//! [`Online`]: the one entry point of the online layer. A request in, an answer out, the same
//! for every caller: the HTTP edge (`recd serve`), `recd recommend` and evaluation.
//!
//! `recommend` reads the user's real-time features (async), then runs the CPU work on the
//! compute pool (`compute.rs`). In [`Mode::Serving`] it works under the deadline: a request
//! that misses it, or whose job waited more than half of it in the pool's queue (shed without
//! running), gets the precomputed popular list for its context with `fallback: true`; a
//! computation that started still finishes and fills the cache (unless it was degraded to the
//! light ranker), so the user's next request is personal again. In [`Mode::Deterministic`]
//! every answer is computed in full (no deadline, no light ranker, no cache), and the
//! exploration slots come from the request id: the same request id, data and model give the
//! same list, which is what batch output and evaluation need. Without a loaded model the answer
//! is the feature store's trending items (24 h window), also marked `fallback: true` with
//! `model_version: None`: a new deployment answers something sensible before its first
//! training instead of failing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use recd_features::{FeatureStore, TrendingQuery, Window};
use recd_types::UserId;

use arc_swap::ArcSwap;

use crate::catalog::CatalogSource;
use crate::compute::Compute;
use crate::experiments::{Experiments, Variant};
use crate::impressions::{ImpressionSink, Showing};
use crate::model_watch::ModelSlot;
use crate::recommend::{self, Answer, AnswerItem, CacheKey, Known, Params, RecommendConfig};
use crate::{OnlineError, ResultCache};

/// How an answer is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Live traffic: the deadline and its fallback, shedding, the light ranker when the
    /// compute threads are behind, and the answer cache.
    Serving,
    /// Every answer in full and never cached, exploration seeded by the request id: batch
    /// output and evaluation, where answers must be reproducible.
    Deterministic,
}

/// A recommendation request, validated by the caller.
#[derive(Debug, Clone)]
pub struct Request {
    /// The user.
    pub user_id: UserId,
    /// Results wanted (the list is ranked to this depth).
    pub n: usize,
    /// `homepage`, `item_page`, ... (pinned items are per context).
    pub context: String,
    /// Client device, if sent.
    pub device: Option<String>,
    /// Restrict to one category.
    pub category: Option<String>,
    /// The request id; a new one is made when `None`. Given, the answer is neither read from
    /// nor kept in the cache (it replays that id's exploration).
    pub request_id: Option<String>,
    /// Wall-clock time of the request (the clock of TTLs and new arrivals).
    pub now_ms: i64,
    /// The moment the list is for, which the ranker's time-of-day and session features read:
    /// the request time for a live request. `None` for a list made ahead (`recd recommend`
    /// without `--at`): it is then for the user's next visit, taken to continue their newest
    /// known event (the clock the engine already gives such a user's state).
    pub at_ms: Option<i64>,
    /// How to compute the answer.
    pub mode: Mode,
    /// Leading items of the list the caller does not show (a later page): the list is still
    /// ranked from the top, but the impression records only what is shown.
    pub offset: usize,
}

/// A similar-items request, validated by the caller.
#[derive(Debug, Clone)]
pub struct SimilarRequest {
    /// The item whose neighbours are wanted.
    pub item_id: String,
    /// Results wanted.
    pub n: usize,
    /// Who is looking, if the caller says: their experiments label the impression.
    pub user_id: Option<UserId>,
    /// Wall-clock time of the request.
    pub now_ms: i64,
    /// Serving records an impression; deterministic callers (batch, evaluation) do not.
    pub mode: Mode,
}

/// The online layer: the served model, the answer cache, the compute threads, and where the
/// user's state and the catalog are read.
pub struct Online {
    /// The model being served (hot-swapped by the watcher).
    pub models: Arc<ModelSlot>,
    /// Recent answers.
    pub cache: ResultCache,
    /// The threads that run recommendation and similar-item work.
    pub compute: Compute,
    features: Arc<dyn FeatureStore>,
    catalog: Arc<dyn CatalogSource>,
    config: RecommendConfig,
    experiments: ArcSwap<Experiments>,
    impressions: OnceLock<Arc<dyn ImpressionSink>>,
}

impl Online {
    /// An engine without a model yet, its cache and compute pool sized by `config`.
    pub fn new(
        config: RecommendConfig,
        features: Arc<dyn FeatureStore>,
        catalog: Arc<dyn CatalogSource>,
    ) -> Self {
        Self {
            models: Default::default(),
            cache: ResultCache::new(
                config.cache_capacity,
                usize::try_from(config.cache_memory_budget_bytes()).unwrap_or(usize::MAX),
                Duration::from_millis(config.cache_ttl_ms),
            ),
            compute: Compute::new(config.compute_threads),
            features,
            catalog,
            config,
            experiments: ArcSwap::from_pointee(Experiments::default()),
            impressions: OnceLock::new(),
        }
    }

    /// Where answers served in [`Mode::Serving`] are recorded from now on (once: a second
    /// sink is ignored). Without one nothing is recorded.
    pub fn set_impressions(&self, sink: Arc<dyn ImpressionSink>) {
        if self.impressions.set(sink).is_err() {
            tracing::warn!("an impression sink was already set; keeping the first");
        }
    }

    /// The sink an answer in `mode` is recorded to, if any.
    fn sink(&self, mode: Mode) -> Option<Arc<dyn ImpressionSink>> {
        match mode {
            Mode::Serving => self.impressions.get().cloned(),
            Mode::Deterministic => None,
        }
    }

    /// Replaces the running experiments (users are assigned by the new set from the next
    /// request on).
    pub fn set_experiments(&self, experiments: Experiments) {
        // The candidate is held in memory only while a running variant names a model other
        // than the one serving (the watcher loads the registry's CANDIDATE then).
        let current = self.models.get();
        let wants_other = experiments
            .models()
            .iter()
            .any(|m| current.as_ref().is_none_or(|c| c.version() != *m));
        self.models.route_candidate(wants_other);
        self.experiments.store(Arc::new(experiments));
    }

    /// The experiments users are assigned to now.
    pub fn experiments(&self) -> Arc<Experiments> {
        self.experiments.load_full()
    }

    /// The `[serve.recommend]` settings it answers with.
    pub fn config(&self) -> &RecommendConfig {
        &self.config
    }

    /// Where it reads the catalog and profiles (the model watcher builds views from it).
    pub fn catalog_source(&self) -> Arc<dyn CatalogSource> {
        self.catalog.clone()
    }

    /// The ranked, explained list for one user (see the module docs for the modes). In
    /// [`Mode::Serving`] what is shown is recorded as an impression.
    pub async fn recommend(self: &Arc<Self>, request: Request) -> Result<Arc<Answer>, OnlineError> {
        let started = Instant::now();
        let sink = self.sink(request.mode);
        let showing = sink.as_ref().map(|_| Showing::of(&request));
        let (answer, cached) = self.answer(request).await?;
        if let (Some(sink), Some(showing)) = (sink, showing) {
            sink.record(showing.impression(&answer, cached, started.elapsed()));
        }
        Ok(answer)
    }

    /// The answer, and whether it was a cached list.
    async fn answer(
        self: &Arc<Self>,
        request: Request,
    ) -> Result<(Arc<Answer>, bool), OnlineError> {
        let started = Instant::now();
        let explicit_id = request.request_id.is_some();
        let mode = request.mode;
        let params = params_of(&request);
        // The user's experiments: the first layer's variant decides the settings.
        let assigned = self.experiments.load().assign(&params.user_id);
        let labels: Vec<String> = assigned.iter().map(|v| v.label.clone()).collect();
        let variant: Option<Arc<Variant>> = assigned.into_iter().next();
        let label = |mut a: Answer| {
            a.variant = variant.as_ref().map(|v| v.label.clone());
            a.experiments = labels.clone();
            a
        };
        let Some(served) = self.served_for(variant.as_deref()) else {
            let answer = label(self.without_model(&params).await?);
            count("no_model");
            return Ok((Arc::new(answer), false));
        };
        if let Err(recommend::UnknownCategory(c)) = recommend::category_of(&served, &params) {
            return Err(OnlineError::UnknownCategory(c));
        }
        let features = match self.features.user(&request.user_id, params.now_ms).await {
            Ok(f) => f,
            Err(e) => {
                // Degrade to what the model knows rather than failing the request; said once a
                // second at most (an outage fails every request, and the log must stay readable).
                static SUPPRESSED: FailureLog = FailureLog::new();
                if let Some(more) = SUPPRESSED.due(params.now_ms) {
                    tracing::warn!(error = %e, failures_since_last = more, "feature store read failed; recommending without real-time features");
                }
                None
            }
        };
        let key = CacheKey {
            user_id: params.user_id.clone(),
            context: (
                params.context.clone(),
                params.device.clone(),
                params.category.clone(),
            ),
            n: params.n,
            model_version: served.version().to_string(),
            user_offset: features.as_ref().map_or(0, |f| f.last_offset),
            variant: variant.as_ref().map(|v| v.label.clone()),
        };
        let cached = mode == Mode::Serving && !explicit_id;
        if cached && let Some(answer) = self.cache.get(&key) {
            count("cached");
            // Every answer is its own request: a reused list gets this request's id, so the
            // events that cite it are attributed to this showing, not to the first.
            let mut answer = Answer::clone(&answer);
            answer.request_id = params.request_id.clone();
            return Ok((Arc::new(answer), true));
        }
        let config = variant.as_ref().map_or(&self.config, |v| &v.config);
        let deadline = Duration::from_millis(config.deadline_ms);
        let (engine, task_served, task_params) = (self.clone(), served.clone(), params.clone());
        let (task_variant, task_labels) = (variant.clone(), labels.clone());
        let known = Known {
            features,
            profile: None,
            session_gap_ms: self.session_gap_ms(),
        };
        let exclude_features = known.features.clone();
        let task = self.compute.run(move || {
            let waited = started.elapsed();
            // Shed a job that waited more than half the deadline in the queue; its request
            // gets the fallback now. Shedding only past the whole deadline let an overload
            // settle where every job ran just before its deadline and finished after it (work
            // wasted, the backlog kept). With half a deadline of queue at most, a job that
            // runs still answers in time.
            if mode == Mode::Serving && waited > deadline / 2 {
                return None;
            }
            // Behind by more than `degrade_after_ms` (this job and the recent jobs on
            // average: `Compute::waited`): rank with the light ranker, which costs a fraction
            // of the MLP, over fewer candidates (no content generator), so the queue drains
            // instead of growing into fallbacks.
            let config = task_variant.as_ref().map_or(&engine.config, |v| &v.config);
            let behind = Duration::from_millis(config.degrade_after_ms);
            let mean_wait = engine.compute.waited(waited);
            let light = mode == Mode::Serving && waited >= behind && mean_wait >= behind;
            let catalog = engine.models.catalog(&task_served);
            let uid = task_params.user_id.clone();
            let source = engine.catalog.clone();
            let profile = move || source.user(&uid).ok().flatten();
            let mut answer = match task_variant.as_ref().and_then(|v| v.baseline) {
                Some(which) => recommend::baseline(
                    &task_served,
                    catalog.as_deref(),
                    &task_params,
                    &known,
                    which,
                ),
                None => recommend::recommend(
                    &task_served,
                    catalog.as_deref(),
                    &task_params,
                    &known,
                    &profile,
                    config,
                    light,
                ),
            };
            answer.variant = task_variant.as_ref().map(|v| v.label.clone());
            answer.experiments = task_labels;
            let answer = Arc::new(answer);
            // A degraded answer is not cached: it would be served for the whole TTL, also
            // after the server has caught up, while recomputing it costs only the light
            // ranking.
            if cached && !answer.degraded {
                engine.cache.put(key, answer.clone());
            }
            Some(answer)
        });
        let outcome = match mode {
            Mode::Deterministic => Ok(task.await),
            Mode::Serving => {
                let remaining = deadline.saturating_sub(started.elapsed());
                tokio::time::timeout(remaining, task).await
            }
        };
        // An answer that arrives after the deadline is as late as none: `timeout` polls the
        // task before its timer, so a finished task would otherwise win even past it.
        let late = mode == Mode::Serving && started.elapsed() > deadline;
        match outcome {
            Ok(Some(Some(answer))) if !late => {
                count(if answer.degraded {
                    "ranked_light"
                } else {
                    "ranked"
                });
                Ok((answer, false))
            }
            Ok(None) => Err(OnlineError::Failed("recommendation")),
            Ok(Some(_)) | Err(_) => {
                count("deadline");
                let state = recommend::state::user_state(
                    &served.model,
                    &served.meaning(),
                    &params.user_id,
                    exclude_features.as_ref(),
                    served.manifest.data_window_ms.1,
                );
                let catalog = self.models.catalog(&served);
                let mut answer = label(recommend::fallback(
                    &served,
                    catalog.as_deref(),
                    &params,
                    &state.exclude,
                ));
                answer.cold = !recommend::state::is_personal(&state);
                Ok((Arc::new(answer), false))
            }
        }
    }

    /// The model a variant is answered with: the candidate when the variant names it and it is
    /// loaded, else `CURRENT` (so a variant whose model is missing still gets answers, labelled
    /// with the version that gave them).
    fn served_for(&self, variant: Option<&Variant>) -> Option<Arc<crate::model_watch::Served>> {
        if let Some(want) = variant.and_then(|v| v.model.as_deref())
            && let Some(candidate) = self.models.candidate().filter(|c| c.version() == want)
        {
            return Some(candidate);
        }
        self.models.get()
    }

    /// The precomputed popular list for the request's context, without the items the user's
    /// state excludes (history, recent views, negatives): the baseline evaluations compare the
    /// engine with.
    pub async fn popular(&self, request: Request) -> Result<Arc<Answer>, OnlineError> {
        let served = self.models.get().ok_or(OnlineError::NoModel)?;
        let features = self.features.user(&request.user_id, request.now_ms).await?;
        let params = params_of(&request);
        let known = Known {
            features,
            profile: None,
            session_gap_ms: self.session_gap_ms(),
        };
        let catalog = self.models.catalog(&served);
        Ok(Arc::new(recommend::baseline(
            &served,
            catalog.as_deref(),
            &params,
            &known,
            crate::experiments::Baseline::Popular,
        )))
    }

    /// Items like `item_id`, most similar first (`crate::similar`). In [`Mode::Serving`]
    /// what is shown is recorded as an impression.
    pub async fn similar(&self, request: SimilarRequest) -> Result<Similar, OnlineError> {
        let started = Instant::now();
        let served = self.models.get().ok_or(OnlineError::NoModel)?;
        let catalog = self.models.catalog(&served);
        let (task_served, id, n) = (served.clone(), request.item_id.clone(), request.n);
        let items = self
            .compute
            .run(move || crate::similar::similar(&task_served, catalog.as_deref(), &id, n))
            .await
            .ok_or(OnlineError::Failed("similar-items"))?
            .ok_or_else(|| OnlineError::UnknownItem(request.item_id.clone()))?;
        let experiments: Vec<String> = match &request.user_id {
            Some(user) => self
                .experiments
                .load()
                .assign(user.as_str())
                .iter()
                .map(|v| v.label.clone())
                .collect(),
            None => Vec::new(),
        };
        let similar = Similar {
            item_id: request.item_id.clone(),
            request_id: new_request_id(),
            model_version: served.version().to_string(),
            items,
            experiments,
        };
        if let Some(sink) = self.sink(request.mode) {
            sink.record(crate::impressions::of_similar(
                &request,
                &similar,
                started.elapsed(),
            ));
        }
        Ok(similar)
    }

    /// No model yet: the feature store's most engaged items of the last 24 hours.
    async fn without_model(&self, params: &Params) -> Result<Answer, OnlineError> {
        let query = TrendingQuery {
            window: Window::Day,
            category: params.category.clone(),
            now_ms: params.now_ms,
            limit: params.n,
        };
        let items = self.features.trending(&query).await?;
        let best = items.first().map_or(1, |t| t.count.max(1)) as f32;
        Ok(Answer {
            request_id: params.request_id.clone(),
            model_version: None,
            fallback: true,
            degraded: false,
            items: items
                .into_iter()
                .map(|t| AnswerItem {
                    item_id: t.item_id.to_string(),
                    score: t.count as f32 / best,
                    source: "trending",
                    reason: match &params.category {
                        Some(c) => format!("trending in {c}"),
                        None => "trending".into(),
                    },
                })
                .collect(),
            variant: None,
            experiments: Vec::new(),
            cold: false,
        })
    }
}

/// Neighbours of one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Similar {
    /// The item asked about.
    pub item_id: String,
    /// This answer's id, which events cite for attribution.
    pub request_id: String,
    /// The model that answered.
    pub model_version: String,
    /// Most similar first.
    pub items: Vec<AnswerItem>,
    /// The experiment variants of the user who asked (none without a user).
    pub experiments: Vec<String>,
}

/// `recd_recommendations_total{outcome}`.
fn count(outcome: &'static str) {
    metrics::counter!("recd_recommendations_total", "outcome" => outcome).increment(1);
}

/// The engine's view of a request (a new request id when it has none).
impl Online {
    /// The speed layer's session gap in ms (`[features] session_gap_secs`).
    fn session_gap_ms(&self) -> i64 {
        self.features.config().session_gap_ms()
    }
}

fn params_of(request: &Request) -> Params {
    Params {
        user_id: request.user_id.to_string(),
        n: request.n,
        context: request.context.clone(),
        device: request.device.clone(),
        category: request.category.clone(),
        request_id: request.request_id.clone().unwrap_or_else(new_request_id),
        now_ms: request.now_ms,
        at_ms: request.at_ms,
    }
}

/// A new request id: unique within the process and unlikely to repeat across restarts.
pub(crate) fn new_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:016x}",
        crate::postprocess::mix(start ^ crate::postprocess::mix(n))
    )
}

/// A warning said at most once a second, with how many failures it stands for.
struct FailureLog {
    last_ms: std::sync::atomic::AtomicI64,
    count: std::sync::atomic::AtomicU64,
}

impl FailureLog {
    const fn new() -> Self {
        Self {
            last_ms: std::sync::atomic::AtomicI64::new(i64::MIN),
            count: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Counts a failure at `now_ms`; `Some(failures since the last warning)` when one is due.
    fn due(&self, now_ms: i64) -> Option<u64> {
        use std::sync::atomic::Ordering;
        self.count.fetch_add(1, Ordering::Relaxed);
        let last = self.last_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < 1_000 {
            return None;
        }
        self.last_ms
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .ok()?;
        Some(self.count.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod failure_log {
    use super::FailureLog;

    #[test]
    fn a_warning_is_due_once_a_second_and_counts_the_failures_it_stands_for() {
        let log = FailureLog::new();
        assert_eq!(log.due(0), Some(1));
        assert_eq!(log.due(10), None);
        assert_eq!(log.due(999), None);
        assert_eq!(log.due(1_000), Some(3));
        assert_eq!(log.due(1_500), None);
    }
}
