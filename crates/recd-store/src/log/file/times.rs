//! The time range of each closed segment, so a consumer can skip what is too old to matter.
//!
//! When the writer closes a segment that it wrote from its first record, it writes
//! `<segment>.time` beside it: the smallest and largest event (or impression) timestamp in
//! it (ms) and a CRC. Catalog records do not count: whoever wants them reads them apart from the events
//! (`catalog`), and an item updated today must not make a segment of year-old events look
//! new to the updater, to training's window or to compaction. A consumer that only wants records from some time on (the feature updater rebuilding
//! an empty store needs the last TTL, not years of log) starts at the first segment whose
//! largest timestamp is not before that time. A segment without a readable range (written
//! by an older build, resumed after a restart, or the active one) is never skipped.
//! Timestamps are the records' own (clients send them), so a range bounds them whatever the
//! order they arrived in.

use std::path::{Path, PathBuf};

use recd_types::{Record, TimestampMs};

use super::super::Offset;
use super::segment::Segment;

const LEN: usize = 20;

/// The range of a segment without events: it holds nothing at or after any time.
pub(super) const NO_EVENTS: (TimestampMs, TimestampMs) = (TimestampMs::MAX, TimestampMs::MIN);

/// The sidecar of the segment file `segment`.
fn path_of(segment: &Path) -> PathBuf {
    segment.with_extension("time")
}

/// Writes the range of a closed segment; a failure only costs a skip later, so it is logged
/// and not returned.
pub(super) fn write(segment: &Path, (min, max): (TimestampMs, TimestampMs)) {
    let mut bytes = [0u8; LEN];
    bytes[..8].copy_from_slice(&min.to_le_bytes());
    bytes[8..16].copy_from_slice(&max.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..16]);
    bytes[16..].copy_from_slice(&crc.to_le_bytes());
    if let Err(error) = std::fs::write(path_of(segment), bytes) {
        tracing::warn!(segment = %segment.display(), %error, "cannot write the segment's time range; it will be read in full");
    }
}

/// The range of a closed segment, if it has a readable one.
pub(super) fn read(segment: &Path) -> Option<(TimestampMs, TimestampMs)> {
    let bytes = std::fs::read(path_of(segment)).ok()?;
    if bytes.len() != LEN {
        return None;
    }
    let at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[i..i + 8]);
        i64::from_le_bytes(b)
    };
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&bytes[16..]);
    (crc32fast::hash(&bytes[..16]) == u32::from_le_bytes(crc)).then(|| (at(0), at(8)))
}

/// The base of the first segment that may hold a record at or after `ms`: every record
/// before it is older. The last segment is never skipped, nor one whose range says "no
/// timed records": builds before impressions had times wrote that for every impressions
/// segment, and skipping them would hide impressions of any age.
pub(super) fn offset_for_time(segments: &[Segment], ms: TimestampMs) -> Offset {
    let Some((last, closed)) = segments.split_last() else {
        return 0;
    };
    closed
        .iter()
        .find(|s| read(&s.path).is_none_or(|(_, max)| max >= ms || max == NO_EVENTS.1))
        .unwrap_or(last)
        .base
}

/// The time a record counts at for a segment's range: an event's or an impression's (catalog
/// records are read apart, whatever their age).
pub(super) fn of(record: &Record) -> Option<TimestampMs> {
    match record {
        Record::Event(e) => Some(e.timestamp_ms),
        Record::Impression(i) => Some(i.at_ms),
        Record::Item { .. } | Record::User { .. } | Record::UserDeleted { .. } => None,
    }
}

/// Merges a batch's range into a segment's.
pub(super) fn merge(
    range: Option<(TimestampMs, TimestampMs)>,
    (min, max): (TimestampMs, TimestampMs),
) -> Option<(TimestampMs, TimestampMs)> {
    Some(range.map_or((min, max), |(a, b)| (a.min(min), b.max(max))))
}
