//! `recd log verify` and `recd log repair`: an operator's tools for a damaged log.
//!
//! Verify reads the whole log read-only (beside a running writer, or without one) and says
//! what is damaged. Repair needs the writer's lock (the server stopped): it copies every
//! damaged range to the quarantine, then rewrites each damaged segment in the current format
//! with only its intact records, which keep their offsets (format 2 frames carry them), so
//! the lost ones become a plain gap that readers no longer report. Records missing at the
//! end of a segment (a gap before the next segment's base) are dealt with by rewriting the
//! next segment under the earlier base: its first frame then says where it really starts.
//! Each rewrite goes to a temporary file that is synced and renamed over the original.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use recd_types::Record;

use super::super::{EventLog, LogDamage, Offset};
use super::damage::{QUARANTINE_DIR, quarantine};
use super::durable::{self, Durable};
use super::frame;
use super::read_only::ReadOnlyLog;
use super::segment::{self, segment_path, sync_dir};
use super::walk::{Step, Walker};
use crate::StoreError;

/// What `verify` found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Records read back intact.
    pub n_records: u64,
    /// One past the last durable offset.
    pub end: Offset,
    /// Every damaged range (empty for a healthy log).
    pub damage: Vec<LogDamage>,
    /// The first offset the log holds: records before it were compacted away (their
    /// catalog records are in the snapshot, which was read back intact). 0 if never compacted.
    pub start: Offset,
    /// Catalog records in the compaction snapshot.
    pub n_catalog_snapshot: usize,
}

/// Reads every record of the log in `dir` (read-only) and reports what is damaged.
pub fn verify(dir: &Path) -> Result<VerifyReport, StoreError> {
    let log = ReadOnlyLog::open(dir)?;
    let (start, n_catalog_snapshot) =
        super::catalog::read_snapshot(dir)?.map_or((0, 0), |(base, records)| (base, records.len()));
    let end = log.end_offset();
    let mut n_records = 0;
    for entry in log.read_from(0)? {
        entry?;
        n_records += 1;
    }
    Ok(VerifyReport {
        n_records,
        end,
        damage: log.damage(),
        start,
        n_catalog_snapshot,
    })
}

/// What `repair` did.
#[derive(Debug, Clone, Default)]
pub struct RepairReport {
    /// Segments rewritten.
    pub n_rewritten: usize,
    /// Damaged ranges removed from them (copied to the quarantine first).
    pub damage: Vec<LogDamage>,
}

/// Rewrites the damaged segments of the log in `dir` without their damaged bytes. Fails if
/// another process has the log open for writing.
pub fn repair(dir: &Path) -> Result<RepairReport, StoreError> {
    let _lock = super::lock_dir(dir)?;
    let published = durable::read(dir);
    let segments = segment::list_segments(dir)?;
    let quarantine_dir = dir.join(QUARANTINE_DIR);
    let mut report = RepairReport::default();
    let mut prev_end: Option<Offset> = None;
    let mut last = None;
    for (i, seg) in segments.iter().enumerate() {
        let is_last = i + 1 == segments.len();
        let end_hint = if is_last {
            published.filter(|d| d.last_base == seg.base).map(|d| d.end)
        } else {
            Some(segments[i + 1].base)
        };
        let mut walker = Walker::open(&seg.path, seg.base, None, end_hint)?;
        let schema = walker.format().schema;
        let mut records = Vec::new();
        let mut damage = Vec::new();
        loop {
            match walker.step().map_err(|e| StoreError::io(&seg.path, e))? {
                Step::Frame { offset, pos, .. } => {
                    let record =
                        frame::decode_record(schema, walker.payload()).map_err(|reason| {
                            StoreError::Corrupt {
                                path: seg.path.clone(),
                                reason: format!("at byte {pos} (offset {offset}): {reason}"),
                            }
                        })?;
                    records.push((offset, record));
                }
                Step::Damage(d) => damage.push(d),
                Step::End => break,
            }
        }
        let new_base = prev_end.filter(|&e| e < seg.base).unwrap_or(seg.base);
        let end = walker.cursor();
        prev_end = Some(end);
        if damage.is_empty() && new_base == seg.base {
            if is_last {
                last = Some((
                    seg.base,
                    std::fs::metadata(&seg.path).map_or(0, |m| m.len()),
                    end,
                ));
            }
            continue;
        }
        for d in &damage {
            let quarantined = quarantine(&quarantine_dir, &seg.path, d);
            report.damage.push(LogDamage {
                segment: seg.path.clone(),
                byte_start: d.start,
                byte_end: d.end,
                first_lost: d.first_lost,
                n_lost: d.n_lost,
                exact: d.exact,
                reason: d.reason.clone(),
                quarantined,
            });
        }
        let len = rewrite(dir, &seg.path, seg.base, new_base, &records)?;
        report.n_rewritten += 1;
        tracing::info!(segment = %seg.path.display(), base = new_base, records = records.len(), "rewrote a log segment without its damaged bytes");
        if is_last {
            last = Some((new_base, len, end));
        }
    }
    if let Some((last_base, last_len, end)) = last {
        let end = end.max(published.map_or(0, |d| d.end));
        durable::Publisher::open(dir)
            .and_then(|p| {
                p.publish(&Durable {
                    end,
                    last_base,
                    last_len,
                })
            })
            .map_err(|e| StoreError::io(dir, e))?;
    }
    Ok(report)
}

/// Writes `records` as a current-format segment starting at `base` in place of `old` (named
/// by `old_base`); returns the new file's length.
fn rewrite(
    dir: &Path,
    old: &Path,
    old_base: Offset,
    base: Offset,
    records: &[(Offset, Record)],
) -> Result<u64, StoreError> {
    let tmp = dir.join(format!("{base:020}.log.repair"));
    let io = |e| StoreError::io(&tmp, e);
    let mut bytes = frame::segment_header(base).to_vec();
    for (offset, record) in records {
        let start = bytes.len();
        frame::encode_records(std::slice::from_ref(record), &mut bytes).map_err(|e| {
            StoreError::io(
                &tmp,
                std::io::Error::other(format!("cannot re-encode offset {offset}: {e:?}")),
            )
        })?;
        frame::stamp_frames(&mut bytes[start..], *offset);
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(&bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    let target = segment_path(dir, base);
    std::fs::rename(&tmp, &target).map_err(io)?;
    if old_base != base {
        std::fs::remove_file(old).map_err(|e| StoreError::io(old, e))?;
    }
    sync_dir(dir)?;
    Ok(bytes.len() as u64)
}
