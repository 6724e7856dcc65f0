//! Compaction: deleting the oldest closed segments once they are old enough and kept
//! elsewhere (the Parquet lake), without losing the catalog or moving an offset.
//!
//! Only a prefix of the log goes, oldest segment first, and never the active one: a log is
//! then still one run of offsets, starting later. Before any file is removed, the catalog
//! records of the segments to delete are merged into the snapshot (`catalog`, `CATALOG`,
//! newest record per item and per user) and the snapshot is synced and renamed into place;
//! its base offset is where the log now starts, which is what lets the writer open a log
//! whose first segment is not at 0. A crash after the snapshot and before the deletions
//! leaves segments the snapshot already covers: readers skip them for the catalog, events
//! in them are still read, and the next compaction deletes them.
//!
//! Two ways in, one mechanism: [`FileLog::compact`](super::FileLog::compact) runs beside the
//! writer in the process that owns the log (the server's retention and its admin route), and
//! [`compact`] takes the writer's lock for an operator's run with the server stopped. In the
//! writer's process the segments are dropped from the shared view before their files go, so
//! no reader created afterwards looks for them. A reader that had already listed them (this
//! process or another: `recd train`, `export`, `events tail`) and opens one after it is
//! deleted finds the snapshot's base past it and goes on from the next segment, with a
//! warning; one that has a segment open keeps reading it (the file lives until closed).
//! Catalog reads that race a compaction are retried (see `catalog::read`).

use std::path::Path;

use recd_types::{Record, TimestampMs};

use super::super::Offset;
use super::catalog::{self, SNAPSHOT_FILE};
use super::frame;
use super::segment::{self, Segment, sync_dir};
use super::times;
use super::walk::{Step, Walker};
use crate::StoreError;

/// A closed segment's records: offsets `base..end` and the time range of its events (a
/// segment without events has `min_ms` `i64::MAX` and `max_ms` `i64::MIN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSpan {
    /// Its first offset.
    pub base: Offset,
    /// One past its last offset (the next segment's base).
    pub end: Offset,
    /// The smallest event timestamp, ms.
    pub min_ms: TimestampMs,
    /// The largest event timestamp, ms.
    pub max_ms: TimestampMs,
}

/// What may be deleted.
pub struct CompactOptions<'a> {
    /// A segment goes only if its newest event is older than this (ms); its catalog
    /// records, however new, are kept in the snapshot.
    pub older_than_ms: TimestampMs,
    /// Whether a segment's records are kept elsewhere: `Err(why)` keeps it (and every later
    /// one).
    pub exported: &'a dyn Fn(&SegmentSpan) -> Result<(), String>,
    /// Only say what would be deleted.
    pub dry_run: bool,
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// The segments deleted (or, in a dry run, that would be).
    pub deleted: Vec<SegmentSpan>,
    /// Why the first segment kept was kept (`None` if only the active one is left).
    pub kept_because: Option<String>,
    /// The log now starts at this offset (the snapshot's base).
    pub start: Offset,
    /// Catalog records in the snapshot.
    pub n_catalog_records: usize,
    /// Bytes of the files deleted (segments and their sidecars; 0 in a dry run).
    pub n_bytes_deleted: u64,
}

/// Deletes the oldest closed segments of the log in `dir` that `options` allows. Fails if
/// another process has the log open for writing.
pub fn compact(dir: &Path, options: &CompactOptions<'_>) -> Result<CompactReport, StoreError> {
    let _lock = super::lock_dir(dir)?;
    let segments = segment::list_segments(dir)?;
    compact_segments(dir, &segments, options, |_| {})
}

/// The work of compaction over `segments` (all of the log's, the last one active): chooses,
/// writes the snapshot, calls `forget(new_start)` so the caller stops handing out the
/// segments below it, then deletes their files.
pub(super) fn compact_segments(
    dir: &Path,
    segments: &[Segment],
    options: &CompactOptions<'_>,
    forget: impl FnOnce(Offset),
) -> Result<CompactReport, StoreError> {
    let covered = catalog::snapshot_base(dir)?;
    let mut report = CompactReport {
        start: covered.max(segments.first().map_or(0, |s| s.base)),
        ..CompactReport::default()
    };
    let mut chosen: Vec<(&Segment, SegmentSpan)> = Vec::new();
    for pair in segments.windows(2) {
        let (segment, next) = (&pair[0], &pair[1]);
        let span = span(segment, next.base)?;
        let why = if span.max_ms >= options.older_than_ms {
            Err(format!(
                "segment {} holds events up to {} ms, not older than the cut-off {} ms",
                segment.path.display(),
                span.max_ms,
                options.older_than_ms
            ))
        } else {
            (options.exported)(&span)
        };
        if let Err(why) = why {
            report.kept_because = Some(why);
            break;
        }
        chosen.push((segment, span));
    }
    if segments.len() <= 1 {
        report.kept_because = Some("the log has only its active segment".into());
    }
    let Some((_, last)) = chosen.last() else {
        return Ok(report);
    };
    let new_start = last.end;
    report.deleted = chosen.iter().map(|(_, s)| *s).collect();
    report.start = new_start;
    let mut records = catalog::read_snapshot(dir)?.map_or_else(Vec::new, |(_, r)| r);
    for (segment, span) in &chosen {
        if span.end <= covered {
            continue;
        }
        records.extend(
            catalog_of(segment, span.end)?
                .into_iter()
                .filter(|(o, _)| *o >= covered),
        );
    }
    let records = catalog::newest_per_key(records);
    report.n_catalog_records = records.len();
    if options.dry_run {
        return Ok(report);
    }
    let path = dir.join(SNAPSHOT_FILE);
    let frames = catalog::encode(&records).map_err(|reason| StoreError::Corrupt {
        path: path.clone(),
        reason,
    })?;
    catalog::write_file(&path, new_start, &frames).map_err(|e| StoreError::io(&path, e))?;
    forget(new_start);
    for (segment, _) in &chosen {
        for file in [
            segment.path.clone(),
            catalog::sidecar_path(&segment.path),
            segment.path.with_extension("time"),
        ] {
            let len = std::fs::metadata(&file).map_or(0, |m| m.len());
            match std::fs::remove_file(&file) {
                Ok(()) => report.n_bytes_deleted += len,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(&file, e)),
            }
        }
    }
    sync_dir(dir)?;
    tracing::info!(
        dir = %dir.display(),
        segments = chosen.len(),
        start = new_start,
        bytes = report.n_bytes_deleted,
        catalog_records = records.len(),
        "compacted the log"
    );
    Ok(report)
}

/// The span of a closed segment, from its time sidecar or, without one, by reading it. A
/// sidecar that says "no timed records" is checked by reading too: builds before impressions
/// had times wrote that for every impressions segment, and trusting it would delete them
/// whatever their age.
fn span(segment: &Segment, end: Offset) -> Result<SegmentSpan, StoreError> {
    let (min_ms, max_ms) = match times::read(&segment.path) {
        Some(range) if range != times::NO_EVENTS => range,
        _ => {
            let mut range: Option<(TimestampMs, TimestampMs)> = None;
            for_each_record(segment, |_, record| {
                if let Some(ms) = times::of(&record) {
                    range = times::merge(range, (ms, ms));
                }
            })?;
            range.unwrap_or(times::NO_EVENTS)
        }
    };
    Ok(SegmentSpan {
        base: segment.base,
        end,
        min_ms,
        max_ms,
    })
}

/// A closed segment's catalog records, from its sidecar or by reading it.
fn catalog_of(segment: &Segment, end: Offset) -> Result<Vec<(Offset, Record)>, StoreError> {
    if let Ok(Some((_, records))) =
        catalog::read_file(&catalog::sidecar_path(&segment.path), Some(segment.base))
    {
        return Ok(records);
    }
    let mut res = Vec::new();
    for_each_record(segment, |offset, record| {
        if offset < end && catalog::is_catalog(&record) {
            res.push((offset, record));
        }
    })?;
    Ok(res)
}

/// Decodes every intact record of a segment (damage is skipped: those records are lost
/// whether the segment stays or goes).
fn for_each_record(segment: &Segment, mut f: impl FnMut(Offset, Record)) -> Result<(), StoreError> {
    let mut walker = Walker::open(&segment.path, segment.base, None, None)?;
    let schema = walker.format().schema;
    loop {
        match walker
            .step()
            .map_err(|e| StoreError::io(&segment.path, e))?
        {
            Step::Frame { offset, pos, .. } => {
                let record = frame::decode_record(schema, walker.payload()).map_err(|reason| {
                    StoreError::Corrupt {
                        path: segment.path.clone(),
                        reason: format!("at byte {pos} (offset {offset}): {reason}"),
                    }
                })?;
                f(offset, record);
            }
            Step::Damage(_) => {}
            Step::End => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
