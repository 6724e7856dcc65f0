//! The replay loop of `recd eval replay` (see `eval.rs`).

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use recd_features::{Batch, EmbeddedStore, FeatureStore, FoldIn, LoggedEvent};
use recd_online::catalog_view::CatalogView;
use recd_online::model_watch::Served;
use recd_online::{LogCatalog, Mode, Online, Request};
use recd_store::{EventLog, Store};
use recd_stream::{AlsFoldIn, SharedFactors};
use recd_train::train;
use recd_types::{Event, EventKind, Record, Signal};
use serde_json::json;

use super::ReplayArgs;
use crate::config::Config;

const DAY_MS: f64 = 86_400_000.0;
/// The list length scored.
const K: usize = 10;
/// Users replayed at once (each user's events stay in order).
const IN_FLIGHT: usize = 64;

/// One replayed event: its place in the replay, the event, whether it is scored, and whether
/// it follows a search of its user by less than a session gap.
struct Step {
    seq: u64,
    event: Event,
    category: Option<String>,
    scored: bool,
    after_search: bool,
}

/// What one mode scored.
#[derive(Debug, Default, Clone, Copy)]
struct Score {
    events: usize,
    hits: usize,
    dcg: f64,
}

impl Score {
    fn add(&mut self, rank: Option<usize>) {
        self.events += 1;
        if let Some(r) = rank {
            self.hits += 1;
            self.dcg += 1.0 / ((r + 2) as f64).log2();
        }
    }

    fn merge(&mut self, other: Score) {
        self.events += other.events;
        self.hits += other.hits;
        self.dcg += other.dcg;
    }

    fn hit(&self) -> f64 {
        self.hits as f64 / self.events.max(1) as f64
    }

    fn ndcg(&self) -> f64 {
        self.dcg / self.events.max(1) as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplayMode {
    Realtime,
    BatchOnly,
    Popular,
}

impl ReplayMode {
    fn name(self) -> &'static str {
        match self {
            ReplayMode::Realtime => "realtime",
            ReplayMode::BatchOnly => "batch_only",
            ReplayMode::Popular => "popular",
        }
    }
}

/// Runs the replay.
pub fn run(args: ReplayArgs, config: Config) -> anyhow::Result<()> {
    let mut train_config = config.train.clone();
    if let Some(days) = args.holdout_days {
        anyhow::ensure!(days > 0.0, "--holdout-days must be positive");
        train_config.holdout_days = days;
    }
    // The model must not know the hold-out it is scored on.
    train_config.refit_on_full = false;
    let log = Store::open_log_reader(&args.data_dir)
        .with_context(|| format!("opening the event log of {}", args.data_dir.display()))?;
    let scratch = std::env::temp_dir().join(format!("recd-replay-{}", std::process::id()));
    let models_dir = scratch.join("models");
    std::fs::create_dir_all(&models_dir)
        .with_context(|| format!("creating {}", models_dir.display()))?;
    let result = (|| {
        tracing::info!(
            holdout_days = train_config.holdout_days,
            "training on the events before the hold-out"
        );
        let outcome = train::run(
            &recd_train::dataset::Source::Log(&log),
            &models_dir,
            &train_config,
            &train::RunOptions {
                force: true,
                als_from: None,
                impressions: None,
            },
            &train::LogProgress,
        )?;
        let catalog = Arc::new(LogCatalog::read(&log)?);
        let served = Served::load(&models_dir, &outcome.version, false, &*catalog)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        runtime.block_on(replay(&args, config, &train_config, &log, served, catalog))
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

async fn replay(
    args: &ReplayArgs,
    config: Config,
    train_config: &recd_train::config::TrainConfig,
    log: &dyn EventLog,
    served: Served,
    catalog: Arc<LogCatalog>,
) -> anyhow::Result<()> {
    let end = served.manifest.data_window_ms.1;
    let start = served.manifest.data_window_ms.0;
    let cut = end - (train_config.holdout_days * DAY_MS) as i64;
    let view = Arc::new(CatalogView::build(&served.model, &*catalog)?);
    let served = Arc::new(served);
    let gap_ms = config.features.session_gap_ms();
    let (before, steps) = read_steps(log, &served, &catalog, (start, cut), gap_ms)?;
    let steps = sample_users(steps, args.max_users);
    if let Some(dir) = &args.dump {
        dump(dir, &before, &steps, &served)?;
    }
    let n_users = steps.len();
    anyhow::ensure!(
        steps.values().flatten().any(|s| s.scored),
        "no positive interaction in the last {} days of {}: nothing to replay",
        train_config.holdout_days,
        args.data_dir.display()
    );
    let mut factors = super::super::online::item_factors(&served)
        .context("the model has no ALS parameters for the fold-in")?;
    // Users trained before the cut get a fold-in for events after it.
    factors.trained_until_ms = cut;
    let shared = Arc::new(SharedFactors::default());
    shared.set(Some(factors));
    let fold: Arc<dyn FoldIn> = Arc::new(AlsFoldIn::new(shared, config.stream.fold_in.clone()));
    let steps = Arc::new(steps);
    let mut rows = Vec::new();
    for mode in [
        ReplayMode::Realtime,
        ReplayMode::BatchOnly,
        ReplayMode::Popular,
    ] {
        let features: Arc<dyn FeatureStore> = Arc::new(EmbeddedStore::new(config.features.clone()));
        let online = Arc::new(Online::new(
            config.serve.recommend.clone(),
            features.clone(),
            catalog.clone(),
        ));
        online.models.set(Some(served.clone()));
        online.models.set_catalog(view.clone());
        let scores = run_mode(mode, &online, &features, &fold, &steps).await?;
        rows.push((mode, scores));
    }
    let rc = &config.serve.recommend;
    let exploration = if rc.exploration_share > 0.0 {
        format!(
            "exploration {} of the slots, seeded by each request id",
            rc.exploration_share
        )
    } else {
        "exploration off".into()
    };
    let ndcg = |m: ReplayMode| rows.iter().find(|r| r.0 == m).map_or(0.0, |r| r.1.0.ndcg());
    let lift = ndcg(ReplayMode::Realtime) / ndcg(ReplayMode::BatchOnly).max(f64::MIN_POSITIVE);
    if args.json {
        let modes: Vec<_> = rows
            .iter()
            .map(|(m, (s, a))| {
                json!({
                    "mode": m.name(), "ndcg@10": s.ndcg(), "hit@10": s.hit(), "events": s.events,
                    "after_search": {"ndcg@10": a.ndcg(), "hit@10": a.hit(), "events": a.events},
                })
            })
            .collect();
        println!(
            "{}",
            json!({
                "modes": modes,
                "users": n_users,
                "holdout_days": train_config.holdout_days,
                "realtime_over_batch_only": lift,
                "engine": format!("deterministic; {exploration}; diversity {:?}", rc.diversity),
            })
        );
    } else {
        println!(
            "session replay of {n_users} users over the last {} days (model trained before them; engine deterministic, {exploration}, diversity {:?})",
            train_config.holdout_days, rc.diversity
        );
        println!(
            "{:<12} {:>8} {:>8} {:>8}   {:>15} {:>8}",
            "mode", "events", "hit@10", "ndcg@10", "after a search:", "ndcg@10"
        );
        for (m, (s, a)) in &rows {
            println!(
                "{:<12} {:>8} {:>8.4} {:>8.4}   {:>15} {:>8.4}",
                m.name(),
                s.events,
                s.hit(),
                s.ndcg(),
                a.events,
                a.ndcg()
            );
        }
        println!("realtime / batch_only NDCG@10: {lift:.3}");
    }
    Ok(())
}

/// Replays every user in `steps` in `mode`, users side by side, each user's events in order.
/// Returns the score of every scored event, and of those after a search.
async fn run_mode(
    mode: ReplayMode,
    online: &Arc<Online>,
    features: &Arc<dyn FeatureStore>,
    fold: &Arc<dyn FoldIn>,
    steps: &Arc<BTreeMap<String, Vec<Step>>>,
) -> anyhow::Result<(Score, Score)> {
    let users: Vec<String> = steps.keys().cloned().collect();
    let (mut total, mut searched) = (Score::default(), Score::default());
    for chunk in users.chunks(IN_FLIGHT) {
        let mut tasks = tokio::task::JoinSet::new();
        for user in chunk {
            let (online, features, fold, steps, user) = (
                online.clone(),
                features.clone(),
                fold.clone(),
                steps.clone(),
                user.clone(),
            );
            tasks.spawn(async move {
                let (mut score, mut searched) = (Score::default(), Score::default());
                for step in &steps[&user] {
                    if step.scored {
                        let rank = ask(mode, &online, step).await?;
                        score.add(rank);
                        if step.after_search {
                            searched.add(rank);
                        }
                    }
                    if mode == ReplayMode::Realtime {
                        let batch = Batch {
                            first_offset: step.seq,
                            events: vec![LoggedEvent {
                                offset: step.seq,
                                event: step.event.clone(),
                                category: step.category.clone(),
                            }],
                            next_offset: step.seq + 1,
                            now_ms: step.event.timestamp_ms,
                        };
                        features.apply(&batch, Some(&*fold)).await?;
                    }
                }
                anyhow::Ok((score, searched))
            });
        }
        for scores in tasks.join_all().await {
            let (score, after_search) = scores?;
            total.merge(score);
            searched.merge(after_search);
        }
    }
    Ok((total, searched))
}

/// The rank (0-based) of the step's item in the mode's top `K`, if it is there.
async fn ask(mode: ReplayMode, online: &Arc<Online>, step: &Step) -> anyhow::Result<Option<usize>> {
    let request = Request {
        user_id: step.event.user_id.clone(),
        n: K,
        context: "homepage".into(),
        device: step.event.context.device.clone(),
        category: None,
        request_id: Some(format!("replay-{}", step.seq)),
        now_ms: step.event.timestamp_ms,
        at_ms: Some(step.event.timestamp_ms),
        mode: Mode::Deterministic,
        offset: 0,
    };
    let answer = match mode {
        ReplayMode::Popular => online.popular(request).await?,
        _ => online.recommend(request).await?,
    };
    let item = step.event.item_id.as_ref().map(|i| i.as_str());
    Ok(answer
        .items
        .iter()
        .take(K)
        .position(|i| Some(i.item_id.as_str()) == item))
}

/// Item events in the training window that the model may learn from: before the cut
/// (`before`, for peers) and after it with the searches, per user in time order (ties by log
/// offset). An item event after the cut is scored when it is positive under the model's
/// weights and the first of the user with its item.
#[allow(clippy::type_complexity)]
fn read_steps(
    log: &dyn EventLog,
    served: &Served,
    catalog: &LogCatalog,
    (start, cut): (i64, i64),
    gap_ms: i64,
) -> anyhow::Result<(Vec<Event>, BTreeMap<String, Vec<Step>>)> {
    let mut before = Vec::new();
    let mut after: Vec<(i64, u64, Event)> = Vec::new();
    for entry in log.read_from(0)? {
        let (offset, record) = entry?;
        let Record::Event(event) = record else {
            continue;
        };
        if !event.is_trusted() || event.timestamp_ms < start {
            continue;
        }
        // Searches go to the speed layer with the rest (they propose candidates and feed
        // `search_match`); they name no item, so nothing scores them and the peers, which
        // learn from items alone, do not see them.
        if event.item_id.is_none() {
            if event.kind == EventKind::Search && event.timestamp_ms > cut {
                after.push((event.timestamp_ms, offset, event));
            }
            continue;
        }
        if event.timestamp_ms <= cut {
            before.push(event);
        } else {
            after.push((event.timestamp_ms, offset, event));
        }
    }
    after.sort_by_key(|(ts, offset, _)| (*ts, *offset));
    // (user, item) pairs the user has touched: a later event on the same item (the click after
    // a view, the purchase after the cart) is not scored. A recommender is asked for what the
    // user has not found yet, and the engine leaves out what they have (as the peers do).
    let mut touched: HashSet<(String, String)> = before
        .iter()
        .filter_map(|e| {
            Some((
                e.user_id.as_str().to_string(),
                e.item_id.as_ref()?.as_str().to_string(),
            ))
        })
        .collect();
    let mut steps: BTreeMap<String, Vec<Step>> = BTreeMap::new();
    let mut searched_at: std::collections::HashMap<String, i64> = Default::default();
    for (seq, (_, _, event)) in after.into_iter().enumerate() {
        let user = event.user_id.as_str();
        let after_search = searched_at
            .get(user)
            .is_some_and(|&at| event.timestamp_ms - at <= gap_ms);
        if event.kind == EventKind::Search {
            searched_at.insert(user.to_string(), event.timestamp_ms);
        }
        let signal = served
            .weights
            .signal(event.kind, event.value, event.dwell_ms);
        let first = match &event.item_id {
            Some(item) => touched.insert((
                event.user_id.as_str().to_string(),
                item.as_str().to_string(),
            )),
            None => false,
        };
        let category = event
            .item_id
            .as_ref()
            .and_then(|i| catalog.item(i.as_str()))
            .and_then(|i| i.category.clone());
        steps
            .entry(event.user_id.as_str().to_string())
            .or_default()
            .push(Step {
                seq: seq as u64,
                scored: first && matches!(signal, Signal::Positive(_)),
                after_search,
                category,
                event,
            });
    }
    Ok((before, steps))
}

/// At most `max` users, chosen by a hash of their id (stable across runs and modes).
fn sample_users(
    steps: BTreeMap<String, Vec<Step>>,
    max: Option<usize>,
) -> BTreeMap<String, Vec<Step>> {
    let Some(max) = max.filter(|m| *m < steps.len()) else {
        return steps;
    };
    let hash = recd_online::recommend::seed_of;
    let mut ids: Vec<(u64, String)> = steps.keys().map(|u| (hash(u), u.clone())).collect();
    ids.sort();
    let keep: HashSet<String> = ids.into_iter().take(max).map(|(_, u)| u).collect();
    steps
        .into_iter()
        .filter(|(u, _)| keep.contains(u))
        .collect()
}

/// `DIR/replay.csv`: `seq,phase,user_id,item_id,timestamp,weight,scored` — the events before
/// the cut (`train`) and those replayed (`replay`, in replay order), with the model's weight
/// of each (its confidence, -1 for a negative, 0 for none).
fn dump(
    dir: &Path,
    before: &[Event],
    steps: &BTreeMap<String, Vec<Step>>,
    served: &Served,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("replay.csv");
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, "seq,phase,user_id,item_id,timestamp,weight,scored")?;
    let weight = |e: &Event| match served.weights.signal(e.kind, e.value, e.dwell_ms) {
        Signal::Positive(c) => c,
        Signal::Negative => -1.0,
        Signal::None => 0.0,
    };
    let line = |w: &mut std::io::BufWriter<std::fs::File>,
                seq: String,
                phase: &str,
                e: &Event,
                scored: bool|
     -> std::io::Result<()> {
        let item = e.item_id.as_ref().map_or("", |i| i.as_str());
        writeln!(
            w,
            "{seq},{phase},{},{item},{},{},{}",
            e.user_id.as_str(),
            e.timestamp_ms,
            weight(e),
            u8::from(scored)
        )
    };
    for e in before {
        line(&mut w, String::new(), "train", e, false)?;
    }
    let mut replayed: Vec<&Step> = steps.values().flatten().collect();
    replayed.sort_by_key(|s| s.seq);
    for s in replayed.into_iter().filter(|s| s.event.item_id.is_some()) {
        line(&mut w, s.seq.to_string(), "replay", &s.event, s.scored)?;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
