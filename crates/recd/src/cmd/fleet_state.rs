//! The state a fleet of API processes shares on the feature store's Redis (DECISIONS §3), set
//! up by `recd serve` when it runs over a bus: the dedupe window of `POST /v1/events`, the
//! experiments stored through the admin API, their watch and the gradual rollout, the rate
//! limits and the list of training runs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use recd_online::experiments::admin::{ExperimentAdmin, SharedStore};
use recd_serve::dedupe::{Dedupe, DedupeWindow};

/// How often an API process looks for experiment changes made through another one.
const EXPERIMENTS_POLL: Duration = Duration::from_millis(500);

/// The fleet's dedupe window, so a retry that the balancer sends to another API process is
/// still a duplicate. A claim whose process died lapses a little after the bus's append
/// deadline.
pub fn dedupe(
    bus: &dyn recd_bus::EventBus,
    features_store: &str,
    config: &recd_serve::ServeConfig,
) -> anyhow::Result<Dedupe> {
    let window_ms =
        i64::try_from(config.dedupe_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    if config.dedupe_max_entries == 0 {
        // Dedupe is off: nothing to share.
        return Ok(Dedupe::Local(Arc::new(DedupeWindow::new(window_ms, 0))));
    }
    let pending_ms = i64::try_from(bus.append_deadline().as_millis()).unwrap_or(i64::MAX);
    let window = recd_bus::SharedDedupe::open(
        features_store,
        "features.store",
        bus.config(),
        window_ms,
        config.dedupe_max_entries,
        pending_ms.saturating_add(5_000),
    )?;
    Ok(Dedupe::Shared(Arc::new(window)))
}

/// The experiments of the config file plus the fleet's, changed through any API process.
pub fn experiments(
    bus: &dyn recd_bus::EventBus,
    features_store: &str,
    base: recd_online::RecommendConfig,
    from_config: std::collections::BTreeMap<String, recd_online::experiments::ExperimentSpec>,
) -> anyhow::Result<ExperimentAdmin> {
    let doc = recd_bus::SharedDoc::open(
        features_store,
        "features.store",
        bus.config(),
        "experiments",
    )?;
    ExperimentAdmin::open_shared(Arc::new(Doc(doc)), base, from_config)
        .context("reading the experiments")
}

/// Applies experiment changes made through other API processes to `online`, until the
/// process ends. A set that does not compile here is logged and the current one kept.
pub async fn follow_experiments(admin: Arc<ExperimentAdmin>, online: Arc<recd_online::Online>) {
    let mut tick = tokio::time::interval(EXPERIMENTS_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        let admin = admin.clone();
        match tokio::task::spawn_blocking(move || admin.refresh()).await {
            Ok(Ok(Some(compiled))) => {
                tracing::info!("experiments changed by another API process; now in effect here");
                online.set_experiments(compiled);
                failing = false;
            }
            Ok(Ok(None)) => failing = false,
            Ok(Err(e)) if !failing => {
                tracing::warn!(error = %e, "cannot apply the fleet's experiments; keeping the current ones");
                failing = true;
            }
            Ok(Err(_)) | Err(_) => {}
        }
    }
}

/// The fleet's watch over its experiments: its state a document on the feature store's
/// Redis, driven by the API process that holds the fleet lock `watch`.
pub fn experiment_watch(
    bus: &dyn recd_bus::EventBus,
    features_store: &str,
    config: recd_online::experiments::guard::GuardConfig,
) -> anyhow::Result<recd_serve::experiment_watch::Watching> {
    let duty = duty(bus, features_store, "watch", "experiment_watch")?;
    Ok(recd_serve::experiment_watch::Watching::fleet(config, duty))
}

/// The fleet's gradual rollout: its history a document on the feature store's Redis, driven
/// by the API process that holds the fleet lock `rollout`.
pub fn rollout(
    bus: &dyn recd_bus::EventBus,
    features_store: &str,
    config: recd_online::rollout::RolloutConfig,
) -> anyhow::Result<recd_serve::rollout::Rollouts> {
    let duty = duty(bus, features_store, "rollout", "rollout")?;
    Ok(recd_serve::rollout::Rollouts::fleet(config, duty))
}

/// The fleet's duty `lock`, its state in the document `doc`.
fn duty(
    bus: &dyn recd_bus::EventBus,
    features_store: &str,
    lock: &'static str,
    doc: &str,
) -> anyhow::Result<recd_serve::fleet_duty::FleetDuty> {
    use recd_serve::fleet_duty::{FleetDuty, LEASE};
    let state = recd_bus::SharedDoc::open(features_store, "features.store", bus.config(), doc)?;
    let (url, bus_config) = (features_store.to_string(), bus.config().clone());
    let take = move || {
        recd_bus::FleetLock::try_acquire(&url, "features.store", &bus_config, lock, LEASE)
            .map_err(|e| e.to_string())
    };
    Ok(FleetDuty::new(lock, state, Box::new(take)))
}

/// The bus's versioned document as the experiments' shared store.
struct Doc(recd_bus::SharedDoc);

impl SharedStore for Doc {
    fn load(&self) -> Result<(u64, Option<Vec<u8>>), String> {
        self.0.load().map_err(|e| e.to_string())
    }

    fn version(&self) -> Result<u64, String> {
        self.0.version().map_err(|e| e.to_string())
    }

    fn replace(&self, expected: u64, doc: &[u8]) -> Result<Option<u64>, String> {
        self.0.replace(expected, doc).map_err(|e| e.to_string())
    }
}

/// How often an API process says it is alive to its fleet, and how long it counts as alive
/// without saying so.
const MEMBER_HEARTBEAT: Duration = Duration::from_secs(1);
const MEMBER_TTL: Duration = Duration::from_secs(3);

/// Keeps this API process in the fleet's member set (its share of the rate limits is 1 /
/// live API processes) and, when rate limits are configured, its counts in the fleet's on
/// Redis (`recd_serve::auth::fleet_limit`), until the process ends. A Redis that does not
/// answer leaves the share as it was and the counts to go stale.
pub fn share_rate_limits(
    bus: &dyn recd_bus::EventBus,
    features_store: &str,
    security: Arc<recd_serve::auth::Security>,
) -> anyhow::Result<()> {
    let mut members = recd_bus::FleetMembers::open(
        features_store,
        "features.store",
        bus.config(),
        "api",
        instance().to_string(),
        MEMBER_TTL,
    )?;
    let counts = security.rate_limited().then(|| security.clone());
    std::thread::Builder::new()
        .name("recd-fleet-members".into())
        .spawn(move || {
            let mut failing = false;
            loop {
                match members.heartbeat() {
                    Ok(n) => {
                        security.set_fleet_size(n);
                        failing = false;
                    }
                    Err(e) if !failing => {
                        tracing::warn!(error = %e, "cannot count the fleet's API processes; rate limits keep their share");
                        failing = true;
                    }
                    Err(_) => {}
                }
                std::thread::sleep(MEMBER_HEARTBEAT);
            }
        })
        .context("starting the fleet member heartbeat")?;
    if let Some(security) = counts {
        count_rate_limits(bus, features_store, security)?;
    }
    Ok(())
}

/// Sends this process's rate-limit counts to the fleet's every `SYNC_EVERY`, on a thread of
/// its own: a batch is a round trip to a Redis that fsyncs every write.
fn count_rate_limits(
    bus: &dyn recd_bus::EventBus,
    features_store: &str,
    security: Arc<recd_serve::auth::Security>,
) -> anyhow::Result<()> {
    use recd_serve::auth::fleet_limit::SYNC_EVERY;
    let counters =
        recd_bus::FleetCounters::open(features_store, "features.store", bus.config(), "ratelimit")?;
    security.count_limits_on(Box::new(counters));
    std::thread::Builder::new()
        .name("recd-fleet-limits".into())
        .spawn(move || {
            let mut failing = false;
            loop {
                match security.sync_limits() {
                    Ok(_) if failing => {
                        tracing::info!("the fleet's rate-limit counts are heard again");
                        failing = false;
                    }
                    Ok(_) => {}
                    Err(e) if !failing => {
                        tracing::warn!(error = %e, "cannot count rate limits on the fleet's Redis; each API process enforces its share alone until it can");
                        failing = true;
                    }
                    Err(_) => {}
                }
                std::thread::sleep(SYNC_EVERY);
            }
        })
        .context("starting the fleet's rate-limit counts")?;
    Ok(())
}

/// This process's id in its fleet (the member set, the training runs it lists).
pub fn instance() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(recd_bus::SharedDedupe::token)
}

/// Finished training runs are listed from, and recorded in, the fleet's shared list.
pub fn share_jobs(
    bus: &dyn recd_bus::EventBus,
    features_store: &str,
    jobs: &recd_serve::jobs::Jobs,
) -> anyhow::Result<()> {
    let doc = recd_bus::SharedDoc::open(features_store, "features.store", bus.config(), "jobs")?;
    jobs.share_with(Arc::new(JobsDoc(doc)), instance().to_string());
    Ok(())
}

/// The fleet's finished runs: one document, a JSON array newest first.
struct JobsDoc(recd_bus::SharedDoc);

impl recd_serve::jobs::FleetJobs for JobsDoc {
    fn record(&self, job: &recd_api::JobOut, history: usize) -> Result<(), String> {
        // Runs end rarely, and a few at once at most: a handful of attempts always wins.
        for _ in 0..16 {
            let (version, bytes) = self.0.load().map_err(|e| e.to_string())?;
            let mut all = decode(bytes)?;
            all.insert(0, job.clone());
            all.truncate(history.max(1));
            let bytes = serde_json::to_vec(&all).map_err(|e| e.to_string())?;
            if self
                .0
                .replace(version, &bytes)
                .map_err(|e| e.to_string())?
                .is_some()
            {
                return Ok(());
            }
        }
        Err("the fleet's list of training runs kept changing; this run is not in it".into())
    }

    fn recent(&self) -> Result<Vec<recd_api::JobOut>, String> {
        decode(self.0.load().map_err(|e| e.to_string())?.1)
    }
}

fn decode(bytes: Option<Vec<u8>>) -> Result<Vec<recd_api::JobOut>, String> {
    match bytes {
        Some(b) => {
            serde_json::from_slice(&b).map_err(|e| format!("the fleet's training runs: {e}"))
        }
        None => Ok(Vec::new()),
    }
}

/// Where this API process publishes its experiment tally for the fleet's reports, named after
/// its data dir (`DATA/instance_id`, made once): the tally is rebuilt from that dir's
/// impressions log after a restart, and must replace its earlier entry, not add to it.
pub fn tallies(
    bus: &dyn recd_bus::EventBus,
    features_store: &str,
    data_dir: &std::path::Path,
    horizon_days: u64,
) -> anyhow::Result<recd_serve::fleet_tally::FleetTallies> {
    let blobs =
        recd_bus::FleetBlobs::open(features_store, "features.store", bus.config(), "tally")?;
    let path = data_dir.join("instance_id");
    let id = match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => id.trim().to_string(),
        _ => {
            let id = recd_bus::SharedDedupe::token();
            recd_online::fs::replace_file(&path, id.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            id
        }
    };
    let horizon_ms = i64::try_from(horizon_days.saturating_mul(86_400_000)).unwrap_or(i64::MAX);
    Ok(recd_serve::fleet_tally::FleetTallies::new(
        blobs, id, horizon_ms,
    ))
}
