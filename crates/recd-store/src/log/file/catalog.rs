//! The log's catalog records (item and user records, user tombstones), apart from its events.
//!
//! A reader that needs the whole catalog but only recent events (training reads 30 days) must
//! not decode years of events to find the item records among them, and the catalog must
//! survive the deletion of old segments (`recd log compact`). Two kinds of file keep the
//! catalog records apart, both in the segment format (a header, then frames that carry their
//! own offsets and CRCs) so one decoder reads them:
//!
//! - `<segment>.catalog`, the sidecar of a closed segment: written by the writer when it closes
//!   a segment it wrote from its first record, a copy of that segment's catalog frames. It goes
//!   to a temporary name, is synced and renamed, so it is whole or absent. A segment without
//!   one (written by an older build, resumed after a restart, or the active one) is walked
//!   instead, skipping its event frames by their first payload byte (`frame::skips_catalog`),
//!   without decoding them.
//! - `CATALOG`, the snapshot compaction writes before it deletes segments: the newest record
//!   of each item and of each user among the deleted segments and the previous snapshot. Its
//!   header's base offset is where it stops: every catalog record below it is in it (only
//!   the newest per item or user), and the first segment kept starts there or earlier.
//!
//! Why not a snapshot alone, written now and then by the writer: a snapshot is as stale as its
//! last write, so readers would still walk every segment after it; sidecars cost one small
//! write per closed segment and need no schedule.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use recd_types::Record;

use super::super::Offset;
use super::damage::DamageLog;
use super::frame::{self, Format, HEADER_LEN, Parsed};
use super::reader::{Reader, View};
use super::segment::sync_dir;
use crate::StoreError;

/// The snapshot file in the log directory.
pub(super) const SNAPSHOT_FILE: &str = "CATALOG";

/// A catalog file's base offset and its records with their offsets.
pub(super) type CatalogFile = (Offset, Vec<(Offset, Record)>);

/// Whether a record belongs to the catalog (items, users, tombstones; not events or
/// impressions).
pub(super) fn is_catalog(record: &Record) -> bool {
    record.is_catalog()
}

/// The sidecar of the segment file `segment`.
pub(super) fn sidecar_path(segment: &Path) -> PathBuf {
    segment.with_extension("catalog")
}

/// Writes `frames` (format-2 frames with their offsets) under a header of base `base` to
/// `path`, whole or not at all: a temporary file, synced, renamed, and the directory synced.
pub(super) fn write_file(path: &Path, base: Offset, frames: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&frame::segment_header(base))?;
    file.write_all(frames)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir).map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    Ok(())
}

/// The frames of `records`, each stamped with its own offset.
pub(super) fn encode(records: &[(Offset, Record)]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for (offset, record) in records {
        let start = out.len();
        frame::encode_records(std::slice::from_ref(record), &mut out)
            .map_err(|e| format!("cannot encode the record of offset {offset}: {e:?}"))?;
        frame::stamp_frames(&mut out[start..], *offset);
    }
    Ok(out)
}

/// A catalog file's base and records; `Ok(None)` if there is no such file. The base must be
/// `base` when one is given (a sidecar's is its segment's).
pub(super) fn read_file(path: &Path, base: Option<Offset>) -> Result<Option<CatalogFile>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let header = bytes.get(..HEADER_LEN as usize).ok_or("no header")?;
    let mut stored = [0u8; 8];
    stored.copy_from_slice(&header[16..24]);
    let stored = Offset::from_le_bytes(stored);
    let format = frame::check_header(header, base.unwrap_or(stored))?;
    if format.frames != Format::CURRENT.frames {
        return Err(format!("frame format {} has no offsets", format.frames));
    }
    let mut records = Vec::new();
    let mut pos = HEADER_LEN as usize;
    let mut previous: Option<Offset> = None;
    while pos < bytes.len() {
        let (size, payload, offset) = match frame::parse(format, &bytes[pos..]) {
            Parsed::Frame {
                size,
                payload,
                offset: Some(offset),
            } => (size, payload, offset),
            Parsed::Frame { offset: None, .. } => return Err("a frame without an offset".into()),
            Parsed::Short { .. } => return Err(format!("cut short at byte {pos}")),
            Parsed::Bad(reason) => return Err(format!("at byte {pos}: {reason}")),
        };
        if previous.is_some_and(|p| offset <= p) {
            return Err(format!("offset {offset} at byte {pos} is out of order"));
        }
        let payload = &bytes[pos + payload.start..pos + payload.end];
        let record = frame::decode_record(format.schema, payload)
            .map_err(|r| format!("at byte {pos}: {r}"))?;
        records.push((offset, record));
        previous = Some(offset);
        pos += size;
    }
    Ok(Some((stored, records)))
}

/// The snapshot in `dir`: the offset it covers up to, and its records. Unreadable is an
/// error: the records in it are nowhere else.
pub(super) fn read_snapshot(dir: &Path) -> Result<Option<CatalogFile>, StoreError> {
    let path = dir.join(SNAPSHOT_FILE);
    read_file(&path, None).map_err(|reason| StoreError::Corrupt {
        path: path.clone(),
        reason: format!("the catalog snapshot of compacted segments is unreadable: {reason}"),
    })
}

/// The offset below which the log's records were compacted into the snapshot (0 without one).
/// Reads only the header.
pub(super) fn snapshot_base(dir: &Path) -> Result<Offset, StoreError> {
    let path = dir.join(SNAPSHOT_FILE);
    let mut header = [0u8; HEADER_LEN as usize];
    match std::fs::File::open(&path) {
        Ok(file) => {
            use std::os::unix::fs::FileExt;
            file.read_exact_at(&mut header, 0)
                .map_err(|e| StoreError::io(&path, e))?;
            let mut base = [0u8; 8];
            base.copy_from_slice(&header[16..24]);
            let base = Offset::from_le_bytes(base);
            frame::check_header(&header, base).map_err(|reason| StoreError::Corrupt {
                path: path.clone(),
                reason,
            })?;
            Ok(base)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(StoreError::io(&path, e)),
    }
}

/// Keeps the newest record of each item and of each user (a profile or its deletion), in
/// offset order.
pub(super) fn newest_per_key(records: Vec<(Offset, Record)>) -> Vec<(Offset, Record)> {
    let mut newest: HashMap<(bool, String), (Offset, Record)> = HashMap::new();
    for (offset, record) in records {
        let key = match &record {
            Record::Item { item, .. } => (true, item.id.as_str().to_string()),
            Record::User { user, .. } => (false, user.id.as_str().to_string()),
            Record::UserDeleted { user, .. } => (false, user.as_str().to_string()),
            Record::Event(_) | Record::Impression(_) => continue,
        };
        match newest.get(&key) {
            Some((o, _)) if *o > offset => {}
            _ => {
                newest.insert(key, (offset, record));
            }
        }
    }
    let mut res: Vec<_> = newest.into_values().collect();
    res.sort_by_key(|(o, _)| *o);
    res
}

/// How a catalog read went: for tests and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatalogReadStats {
    /// Records taken from the compaction snapshot.
    pub from_snapshot: u64,
    /// Segments whose sidecar was read instead of the segment.
    pub sidecars: u64,
    /// Segments walked (their event frames skipped undecoded).
    pub walked: u64,
}

/// Every catalog record below `end` in `view`, in offset order: the snapshot's, then each
/// segment's from its sidecar or by walking it.
///
/// A compaction that runs meanwhile can move records from segments this read has not reached
/// yet into a snapshot it has already read: the read would miss them. So it is done again
/// whenever the snapshot's base changed while it ran (compactions are rare; a few tries are
/// plenty).
pub(super) fn read(
    dir: &Path,
    view: &View,
    end: Offset,
    damage: &Arc<DamageLog>,
) -> Result<(Vec<(Offset, Record)>, CatalogReadStats), StoreError> {
    let mut tries = 0;
    loop {
        let before = snapshot_base(dir)?;
        let res = read_once(dir, view, end, damage);
        if snapshot_base(dir)? == before || tries == 4 {
            return res;
        }
        tries += 1;
        tracing::debug!(dir = %dir.display(), "the log was compacted during a catalog read; reading again");
    }
}

fn read_once(
    dir: &Path,
    view: &View,
    end: Offset,
    damage: &Arc<DamageLog>,
) -> Result<(Vec<(Offset, Record)>, CatalogReadStats), StoreError> {
    let end = end.min(view.end);
    let mut stats = CatalogReadStats::default();
    let (covered, mut res) = match read_snapshot(dir)? {
        Some((base, records)) => (base, records),
        None => (0, Vec::new()),
    };
    res.retain(|(o, _)| *o < end);
    stats.from_snapshot = res.len() as u64;
    let segments = &view.segments;
    for (i, segment) in segments.iter().enumerate() {
        if segment.base >= end {
            break;
        }
        let next_base = segments.get(i + 1).map(|s| s.base);
        // A segment compaction had covered but not yet deleted when it was interrupted.
        if next_base.is_some_and(|n| n <= covered) {
            continue;
        }
        let from = covered.max(segment.base);
        let until = next_base.map_or(end, |n| n.min(end));
        let sidecar = match next_base {
            Some(_) => read_file(&sidecar_path(&segment.path), Some(segment.base))
                .unwrap_or_else(|reason| {
                    tracing::warn!(segment = %segment.path.display(), %reason, "unreadable catalog sidecar; walking the segment instead");
                    None
                }),
            None => None,
        };
        if let Some((_, records)) = sidecar {
            stats.sidecars += 1;
            res.extend(
                records
                    .into_iter()
                    .filter(|(o, _)| *o >= from && *o < until),
            );
            continue;
        }
        stats.walked += 1;
        for entry in Reader::new(view.clone(), from, damage.clone()).catalog_only() {
            let (offset, record) = entry?;
            if offset >= until {
                break;
            }
            res.push((offset, record));
        }
    }
    Ok((res, stats))
}

#[cfg(test)]
mod tests;
