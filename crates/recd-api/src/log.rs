//! `POST /v1/admin/log/compact`: deleting the oldest segments of one of the data dir's logs,
//! done by the server that writes them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Which segments of which log may go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogCompactIn {
    /// `events` (the default: events, items and users) or `impressions`.
    #[serde(default)]
    pub log: Option<LogNameIn>,
    /// Only segments whose newest record is older than this many seconds go.
    pub older_than_secs: u64,
    /// Events: the directory (on the server) that `recd export --out` wrote from this data
    /// dir; a segment goes only if that export holds it. Not for impressions.
    #[serde(default)]
    pub exported_to: Option<String>,
    /// Events: delete old segments although no export holds them.
    #[serde(default)]
    pub discard_unexported: Option<bool>,
    /// Only say what would be deleted.
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// A data dir's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogNameIn {
    /// `log/`: events, items and users.
    Events,
    /// `impressions/`: the answers shown.
    Impressions,
}

/// What a compaction deleted (or, in a dry run, would delete).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LogCompactOut {
    /// The log: `events` or `impressions`.
    pub log: String,
    /// Whether nothing was deleted, only listed.
    pub dry_run: bool,
    /// The segments, oldest first.
    pub deleted: Vec<CompactedSegmentOut>,
    /// The log's first offset now.
    pub start: u64,
    /// Why the oldest segment kept was kept, if any was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_because: Option<String>,
    /// Item and user records kept in the log's catalog snapshot.
    pub catalog_records: u64,
    /// Bytes of the files deleted.
    pub bytes_deleted: u64,
}

/// One deleted segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompactedSegmentOut {
    /// Its first offset.
    pub base: u64,
    /// One past its last offset.
    pub end: u64,
    /// Its oldest record's time, ms since the epoch (absent: no timed records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ms: Option<i64>,
    /// Its newest record's time, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<i64>,
}
