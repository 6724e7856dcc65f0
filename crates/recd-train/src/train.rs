//! `recd train`: the batch job from event log to a published, evaluated, versioned model.
//!
//! Stages (each timed and logged):
//! 1. load: the window of the event log and the catalog ([`Dataset`]);
//! 2. split: the last `holdout_days` become the hold-out;
//! 3. ranker: generators built on the head of each user's pre-hold-out history propose
//!    candidates; the tail labels them; the ranker is trained on those examples;
//! 4. evaluate: generators built on everything before the hold-out, with that ranker, are
//!    scored on the hold-out — each generator alone and the whole pipeline;
//! 5. refit: generators are rebuilt on the whole window (so the model knows the newest days);
//! 6. publish: files into `models/.tmp-<version>`, manifest with checksums, atomic rename;
//! 7. gate: the new version is placed only if its pipeline NDCG@10 is not worse than the
//!    current model's by more than the tolerance (or `force`), both scored on the part of the
//!    hold-out the current model never saw (`gate`): as `CURRENT`, or as the registry's
//!    `CANDIDATE` under `[train] rollout = "candidate"`;
//! 8. retention: versions past the newest `[train] keep_versions` are deleted.

use std::path::{Path, PathBuf};
use std::time::Instant;

use recd_model::Model;
use recd_model::artifact::{FORMAT_VERSION, GateRecord, Manifest, registry};

use crate::build::build_model_with;
use crate::config::{Rollout, TrainConfig};
use crate::dataset::{Dataset, Source, sample_users, split_user_tails};
use crate::evaluate::{Metrics, evaluate, relevant_sets};
use crate::external_als::{AlsSource, ExternalAls};
use crate::gate::{self, GateReport};
use crate::moment::Moments;
pub use crate::progress::{LogProgress, Progress};
use crate::ranker::Group;
use crate::{TrainError, ranker, report};

/// What a training run did.
#[derive(Debug)]
pub struct TrainOutcome {
    /// The new version.
    pub version: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Hold-out metrics per generator and for the pipeline.
    pub metrics: Vec<(String, Metrics)>,
    /// The ranker kind chosen and the validation scores of those tried.
    pub ranker: (String, Vec<(String, f64)>),
    /// Whether `CURRENT` now names the new version.
    pub activated: bool,
    /// Whether the registry's `CANDIDATE` now names the new version.
    pub candidate: bool,
    /// The gate's decision in words, with both numbers and the method.
    pub decision: String,
    /// The gate's numbers and method.
    pub gate: GateReport,
}

/// How one run goes beyond its configuration.
#[derive(Clone, Copy, Default)]
pub struct RunOptions<'a> {
    /// Place the new model even if the gate refuses it.
    pub force: bool,
    /// ALS factors fitted elsewhere, used in place of recd's own ALS fit at every stage.
    pub als_from: Option<&'a ExternalAls>,
    /// The impressions log: what users were shown, for the ranker's negatives.
    pub impressions: Option<&'a dyn recd_store::EventLog>,
}

impl RunOptions<'_> {
    /// The ALS source of the model fitted up to the hold-out cut.
    fn fit_als(&self) -> AlsSource<'_> {
        self.als_from
            .map_or(AlsSource::Own, |a| AlsSource::Given(&a.fit))
    }

    /// The ALS source of the refit on the whole window.
    fn full_als(&self) -> Result<AlsSource<'_>, TrainError> {
        match self.als_from {
            None => Ok(AlsSource::Own),
            Some(ExternalAls {
                full: Some(full), ..
            }) => Ok(AlsSource::Given(full)),
            Some(_) => Err(TrainError::ExternalAls(
                "there is no `full` set, and [train] refit_on_full is on: run the job with this configuration".into(),
            )),
        }
    }
}

/// Runs the whole job.
pub fn run(
    source: &Source<'_>,
    models_dir: &Path,
    config: &TrainConfig,
    options: &RunOptions<'_>,
    progress: &dyn Progress,
) -> Result<TrainOutcome, TrainError> {
    if config.refit_on_full {
        // Refused before hours of work rather than at the refit.
        options.full_als()?;
    }
    let stage = |name: &str| {
        progress.start(name);
        (name.to_string(), Instant::now())
    };
    let done = |(name, t): (String, Instant)| progress.finish(&name, t.elapsed().as_secs_f64());

    let s = stage("load");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let (ds, _) = source.load_at(config, now)?;
    if ds.interactions.is_empty() {
        return Err(TrainError::invalid(
            "events",
            "the event log has no interactions with items to train on",
        ));
    }
    tracing::info!(
        users = ds.users.len(),
        items = ds.items.len(),
        interactions = ds.interactions.len(),
        "training data loaded"
    );
    done(s);

    let (fit, holdout) = ds.split_holdout(config.holdout_days);
    tracing::info!(
        fit = fit.len(),
        holdout = holdout.len(),
        holdout_days = config.holdout_days,
        "hold-out split"
    );

    let s = stage("ranker");
    let (head, tail) = split_user_tails(&fit, config.ranker_label_fraction);
    // recd's own ALS even with given factors: they have seen the tail (`external_als`).
    let head_model = build_model_with(&ds, &head, config, AlsSource::Own, progress)?;
    // Labels follow the evaluation's rule: tail items with enough confidence that the head
    // does not already hold.
    let mut positives = relevant_sets(&head_model, &tail, config.relevance_min_confidence);
    let keep = sample_users(
        positives.keys().copied(),
        config.ranker.max_users,
        config.ranker.seed,
    );
    positives.retain(|u, _| keep.binary_search(u).is_ok());
    let shown = match options.impressions {
        Some(log) if config.ranker.negatives_from_impressions => match source {
            Source::Log(events) => crate::shown::negatives(log, *events, &ds, &tail)?,
            // A bus's events are not joined to a data dir's impressions.
            Source::Bus { .. } => Default::default(),
        },
        _ => Default::default(),
    };
    tracing::info!(
        users = shown.len(),
        "ranker negatives from impressions (shown, not engaged with) for these users"
    );
    let moments = Moments::of(&ds, &head, &tail, config.session_gap_ms);
    let mut groups = Group::per_user(&head_model, positives, &shown, &moments);
    groups.extend(Group::after_searches(
        &ds,
        (&head, &tail),
        &keep,
        &head_model,
        config,
    ));
    let examples = ranker::collect(
        &head_model,
        &groups,
        &config.candidates,
        config.ranker.max_negatives_per_user,
    );
    let trained = ranker::train(&examples, &config.ranker, progress);
    drop(head_model);
    done(s);

    let s = stage("evaluate");
    let mut model = build_model_with(&ds, &fit, config, options.fit_als(), progress)?;
    model.ranker = trained.ranker.clone();
    model.light_ranker = trained.light.clone();
    let eval_users: std::collections::HashSet<u32> =
        sample_users(holdout.iter().map(|i| i.user), config.max_eval_users, 0)
            .into_iter()
            .collect();
    let holdout_sample: Vec<_> = holdout
        .iter()
        .filter(|i| eval_users.contains(&i.user))
        .copied()
        .collect();
    let moments = Moments::of(&ds, &fit, &holdout_sample, config.session_gap_ms);
    let metrics = evaluate(
        &model,
        &holdout_sample,
        &moments,
        config.relevance_min_confidence,
        &config.candidates,
        progress,
    );
    print_table(&metrics);
    done(s);

    // The current model is re-scored against the generators fitted before the hold-out,
    // which the refit below replaces.
    let s = stage("gate");
    let current = gate::assess_current(models_dir, &ds, &model, &holdout_sample, config)?;
    done(s);

    if config.refit_on_full && !holdout.is_empty() {
        let s = stage("refit");
        model = build_model_with(&ds, &ds.interactions, config, options.full_als()?, progress)?;
        model.ranker = trained.ranker.clone();
        model.light_ranker = trained.light.clone();
        done(s);
    }

    let s = stage("publish");
    let created_ms = now_ms();
    let version = version_name(created_ms);
    let pipeline = metrics
        .iter()
        .find(|(n, _)| n == "pipeline")
        .map(|(_, m)| m.clone())
        .unwrap_or_default();
    let mut gate = gate::decide(&version, &pipeline, current.as_ref(), config, options.force);
    let dir = publish(
        models_dir,
        &Publication {
            version: &version,
            created_ms,
            model: &model,
            ds: &ds,
            config,
            metrics: &metrics,
            gate: &gate,
            als_source: options.als_from.map(|a| &a.source),
        },
    )?;
    done(s);

    let (placed, decision) = if gate.passed {
        place(models_dir, &version, config.rollout, gate.decision.clone())?
    } else {
        (Placed::Nowhere, gate.decision.clone())
    };
    gate.decision = decision.clone();
    let (activated, candidate) = (placed == Placed::Current, placed == Placed::Candidate);
    tracing::info!(
        version,
        activated,
        candidate,
        method = gate.method.as_str(),
        decision,
        "publish gate"
    );
    retain(models_dir, config.keep_versions);
    Ok(TrainOutcome {
        version,
        dir,
        metrics,
        ranker: (trained.label.clone(), trained.scores),
        activated,
        candidate,
        decision,
        gate,
    })
}

fn print_table(metrics: &[(String, Metrics)]) {
    for line in report::table(metrics).lines() {
        tracing::info!("{line}");
    }
}

/// What [`publish`] writes.
struct Publication<'a> {
    version: &'a str,
    created_ms: i64,
    model: &'a Model,
    ds: &'a Dataset,
    config: &'a TrainConfig,
    metrics: &'a [(String, Metrics)],
    /// The gate's decision on it (recorded beside it and in its report).
    gate: &'a GateReport,
    /// Where the ALS vectors came from, when not from recd's own fit.
    als_source: Option<&'a serde_json::Value>,
}

fn publish(models_dir: &Path, p: &Publication<'_>) -> Result<PathBuf, TrainError> {
    let Publication {
        version,
        created_ms,
        model,
        ds,
        config,
        metrics,
        gate,
        als_source,
    } = *p;
    let tmp = models_dir.join(format!(".tmp-{version}"));
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    model.save(&tmp)?;
    let record = GateRecord {
        passed: gate.passed,
        method: gate.method.as_str().to_string(),
        decision: gate.decision.clone(),
    };
    record.write(&tmp)?;
    let page = report::Page {
        version,
        created_ms,
        data_window_ms: ds.window_ms,
        counts: (ds.users.len(), ds.items.len(), ds.interactions.len()),
        gate: &record,
        history: report::history(models_dir),
    };
    let metrics_json = report::json(metrics);
    let write = |name: &str, text: String| {
        let p = tmp.join(name);
        std::fs::write(&p, text).map_err(|e| TrainError::io(&p, e))
    };
    write(
        "metrics.json",
        serde_json::to_string_pretty(&metrics_json).unwrap_or_default(),
    )?;
    write("report.html", report::html(&page, metrics))?;
    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        version: version.to_string(),
        created_ms,
        data_window_ms: ds.window_ms,
        params: serde_json::to_value(config).unwrap_or_default(),
        metrics: metrics_json,
        files: Default::default(),
    };
    if let (Some(source), Some(params)) = (als_source, manifest.params.as_object_mut()) {
        params.insert("als_source".into(), source.clone());
    }
    manifest.write(&tmp)?;
    Ok(registry::publish(models_dir, &tmp, version)?)
}

/// Where a version that passed the gate went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placed {
    Current,
    Candidate,
    Nowhere,
}

/// Places a version that passed the gate by the rollout policy; returns where, and the gate's
/// reason completed with it.
fn place(
    models_dir: &Path,
    version: &str,
    rollout: Rollout,
    why: String,
) -> Result<(Placed, String), TrainError> {
    let current = registry::current(models_dir)?;
    match (rollout, current) {
        (Rollout::Candidate, Some(cur)) => {
            let staged = registry::stage_candidate(models_dir, version)?;
            let replaced = staged
                .replaced
                .map_or(String::new(), |old| format!(" (replacing candidate {old})"));
            Ok((
                Placed::Candidate,
                format!(
                    "{why}; rollout = candidate: {version} is the CANDIDATE{replaced}, {cur} stays CURRENT until `recd models promote`"
                ),
            ))
        }
        (Rollout::Candidate, None) => {
            registry::activate(models_dir, version)?;
            tracing::warn!(
                model_version = version,
                "rollout = candidate, but there is no current model to roll out beside: activating directly"
            );
            Ok((
                Placed::Current,
                format!("{why}; no CURRENT to roll out beside, so it is CURRENT directly"),
            ))
        }
        (Rollout::Direct, _) => {
            registry::activate(models_dir, version)?;
            Ok((Placed::Current, format!("{why}; {version} is now CURRENT")))
        }
    }
}

/// Retention after a publish. A failure is logged, not returned: the model is published and
/// placed, and the next run (or `recd models gc`) retries.
fn retain(models_dir: &Path, keep_versions: usize) {
    if let Err(e) = registry::gc(models_dir, keep_versions) {
        tracing::warn!(error = %e, keep_versions, "model retention failed; old versions stay for now");
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `vYYYYMMDD-HHMMSS-mmm` in UTC: sortable, readable, unique per millisecond.
pub fn version_name(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "v{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// `YYYY-MM-DD HH:MM:SS UTC`: a time for people (reports).
pub(crate) fn utc_text(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_are_dates() {
        assert_eq!(version_name(0), "v19700101-000000-000");
        assert_eq!(version_name(1_795_000_000_123), "v20261118-110640-123");
        assert_eq!(version_name(951_782_400_000), "v20000229-000000-000");
        assert_eq!(utc_text(1_795_000_000_123), "2026-11-18 11:06:40 UTC");
    }
}
