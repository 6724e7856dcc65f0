//! Retention: which old segments of a data dir's logs are deleted, decided in one place for
//! the server's schedule (`[store.retention]`), its admin route and `recd log compact`.
//!
//! Events are the system's record: an event segment goes only once an export to the Parquet
//! lake holds it (its `_recd_export.json` covers the segment's offsets and times, from this
//! log), or when the operator says to discard it. Impressions are what was shown, kept for
//! experiment reports and attribution (which count `[serve.impressions] report_horizon_days`
//! back) and never exported: they go by age alone, on by default, since at 2,000 answers/s
//! they grow by tens of GB a day.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{CompactOptions, CompactReport, ExportManifest, FileLog, SegmentSpan, StoreError};

/// `[store.retention]`: when old log segments are deleted by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// How often the server applies the ages below, in seconds (0: never; `recd log compact`
    /// and `POST /v1/admin/log/compact` still work).
    pub check_every_secs: u64,
    /// Event segments whose newest event is older than this many days are deleted, once
    /// exported (0: events are kept for good).
    pub events_older_than_days: u64,
    /// The directory `recd export --out` writes from this data dir: an event segment goes only
    /// if that export holds it. Needed with `events_older_than_days`, unless
    /// `events_discard_unexported`.
    pub events_exported_to: String,
    /// Delete old event segments although no export holds them: their events are gone.
    pub events_discard_unexported: bool,
    /// Impression segments older than this many days are deleted (0: kept for good). Keep it
    /// above `[serve.impressions] report_horizon_days`, which reports count back after a
    /// restart.
    pub impressions_older_than_days: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            check_every_secs: 3600,
            events_older_than_days: 0,
            events_exported_to: String::new(),
            events_discard_unexported: false,
            impressions_older_than_days: 31,
        }
    }
}

impl RetentionConfig {
    /// Checks that an age for events says what protects them.
    pub fn validate(&self) -> Result<(), String> {
        if self.events_older_than_days > 0
            && self.events_exported_to.is_empty()
            && !self.events_discard_unexported
        {
            return Err(
                "store.retention.events_older_than_days needs store.retention.events_exported_to (the lake `recd export` writes) or events_discard_unexported = true"
                    .into(),
            );
        }
        if !self.events_exported_to.is_empty() && self.events_discard_unexported {
            return Err(
                "store.retention: set events_exported_to or events_discard_unexported, not both"
                    .into(),
            );
        }
        Ok(())
    }

    /// The compactions the schedule runs.
    pub fn requests(&self) -> Vec<CompactRequest> {
        let days = |d: u64| Duration::from_secs(d.saturating_mul(86_400));
        let mut res = Vec::new();
        if self.events_older_than_days > 0 {
            res.push(CompactRequest {
                log: LogName::Events,
                older_than: days(self.events_older_than_days),
                exported_to: (!self.events_exported_to.is_empty())
                    .then(|| PathBuf::from(&self.events_exported_to)),
                discard_unexported: self.events_discard_unexported,
                dry_run: false,
            });
        }
        if self.impressions_older_than_days > 0 {
            res.push(CompactRequest {
                log: LogName::Impressions,
                older_than: days(self.impressions_older_than_days),
                exported_to: None,
                discard_unexported: false,
                dry_run: false,
            });
        }
        res
    }
}

/// Which log of a data dir.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogName {
    /// `log/`: events, items, users.
    Events,
    /// `impressions/`: what was shown.
    Impressions,
}

impl LogName {
    /// The name used in config, metrics and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            LogName::Events => "events",
            LogName::Impressions => "impressions",
        }
    }
}

/// One compaction asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactRequest {
    /// The log to compact.
    pub log: LogName,
    /// Only segments whose newest record is older than this, counted back from now.
    pub older_than: Duration,
    /// Events: the export that must hold a segment for it to go.
    pub exported_to: Option<PathBuf>,
    /// Events: delete old segments although no export holds them.
    pub discard_unexported: bool,
    /// Only say what would be deleted.
    pub dry_run: bool,
}

/// Why a compaction was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    /// The request cannot be carried out as asked: the caller's to fix.
    #[error("{field}: {message}")]
    Invalid {
        /// The request's field at fault.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// This process does not hold that log (impressions not recorded).
    #[error("this server keeps no {0} log")]
    NoSuchLog(&'static str),
    /// Reading or deleting failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The logs of a data dir, as the process that writes them holds them.
pub struct Logs {
    /// The event log.
    pub events: Arc<FileLog>,
    /// The impressions log, when this process records impressions.
    pub impressions: Option<Arc<FileLog>>,
}

impl Logs {
    /// The log named `name`.
    pub fn get(&self, name: LogName) -> Option<&Arc<FileLog>> {
        match name {
            LogName::Events => Some(&self.events),
            LogName::Impressions => self.impressions.as_ref(),
        }
    }

    /// Carries out `request` beside the writers; `now_ms` is the clock the age counts from.
    pub fn compact(
        &self,
        request: &CompactRequest,
        now_ms: i64,
    ) -> Result<CompactReport, CompactError> {
        let log = self
            .get(request.log)
            .ok_or(CompactError::NoSuchLog(request.log.as_str()))?;
        compact_log(log.dir(), request, now_ms, |options| log.compact(options))
    }
}

/// How an export names the log it read: the log directory's canonical path.
pub fn export_source(log_dir: &Path) -> Option<String> {
    std::fs::canonicalize(log_dir)
        .ok()
        .map(|p| p.display().to_string())
}

/// Checks `request` against the log in `log_dir` and runs `run` with the options it makes:
/// the one place that says what protects a segment. `run` is the writer's
/// [`FileLog::compact`] or, with the server stopped, [`crate::compact`].
pub fn compact_log(
    log_dir: &Path,
    request: &CompactRequest,
    now_ms: i64,
    run: impl FnOnce(&CompactOptions<'_>) -> Result<CompactReport, StoreError>,
) -> Result<CompactReport, CompactError> {
    let manifest = match (request.log, &request.exported_to, request.discard_unexported) {
        (LogName::Impressions, Some(_), _) => {
            return Err(CompactError::Invalid {
                field: "exported_to",
                message: "impressions are not exported; they go by age alone".into(),
            });
        }
        (LogName::Impressions, None, _) => None,
        (LogName::Events, Some(_), true) => {
            return Err(CompactError::Invalid {
                field: "discard_unexported",
                message: "give an export to check or allow deleting without one, not both".into(),
            });
        }
        (LogName::Events, Some(lake), false) => {
            Some(ExportManifest::read(lake).map_err(|e| CompactError::Invalid {
                field: "exported_to",
                message: format!(
                    "{} holds no finished export of this data dir (run `recd export --out {}` first): {e}",
                    lake.display(),
                    lake.display()
                ),
            })?)
        }
        (LogName::Events, None, true) => None,
        (LogName::Events, None, false) => {
            return Err(CompactError::Invalid {
                field: "exported_to",
                message: "say where the events were exported, or allow deleting them without an export (discard_unexported)".into(),
            });
        }
    };
    let source = export_source(log_dir);
    let exported = |span: &SegmentSpan| match &manifest {
        Some(m) => m.covers(
            source.as_deref(),
            (span.base, span.end),
            (span.min_ms, span.max_ms),
        ),
        None => Ok(()),
    };
    let older_than_ms = i64::try_from(request.older_than.as_millis()).unwrap_or(i64::MAX);
    let options = CompactOptions {
        older_than_ms: now_ms.saturating_sub(older_than_ms),
        exported: &exported,
        dry_run: request.dry_run,
    };
    Ok(run(&options)?)
}

#[cfg(test)]
mod tests;
