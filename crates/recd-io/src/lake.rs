//! The continuous lake sink: a fleet's event bus written to the Parquet lake round after round
//! (`recd sink`), in the layout of `recd export` (`OUT/date=YYYY-MM-DD/*.parquet`, the same
//! schema), so Spark and `recd train --als-from` read it the same way.
//!
//! Each round reads every partition from where the previous round stopped up to its end now,
//! and writes those events as new part files of their days, named after the round
//! (`part-rNNNNNNNN-NNNNN.parquet`). Then it records where it stopped in `OUT/_recd_sink.json`
//! (written whole, synced and renamed). Exactly once across crashes: a round that died before
//! recording runs again under the same number, after deleting whatever files of that number
//! it had written, so its events are neither lost nor doubled.
//!
//! Deletions: a user's tombstone drops their earlier events of the same round as they are
//! read (the partition's offsets order them, as in `recd export`), and every part file of
//! earlier rounds that holds rows of theirs is rewritten without them, before the round is
//! recorded. A user's events are all in one partition, and earlier rounds covered lower
//! offsets of it, so every row of theirs in an earlier file predates the tombstone. That
//! rewrite reads the whole lake, once per round that saw a deletion.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use recd_store::EventLog;
use recd_types::{Record, UserId};
use serde::{Deserialize, Serialize};

use crate::export::{Exporter, Row};
use crate::{ExportOptions, ExportReport, Format, IoError, read_events};

/// The sink's progress file in the lake.
pub const SINK_STATE: &str = "_recd_sink.json";

/// Where a sink stands, kept in [`SINK_STATE`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkState {
    /// The bus it reads (`bus.events`): a lake is fed by one bus.
    pub source: String,
    /// Per partition, the next offset to read.
    pub next_offsets: Vec<u64>,
    /// The last round recorded.
    pub round: u64,
    /// Events written over all rounds (before deletions).
    pub n_events: u64,
}

impl SinkState {
    /// The state of the lake at `out`; `None` before its first round.
    pub fn read(out: &Path) -> Result<Option<Self>, IoError> {
        let path = out.join(SINK_STATE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(IoError::io(&path, e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| IoError::bad_file(&path, e.to_string()))
    }

    fn write(&self, out: &Path) -> Result<(), IoError> {
        use std::io::Write;
        let path = out.join(SINK_STATE);
        let tmp = out.join(format!(".{SINK_STATE}.tmp"));
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        let mut f = std::fs::File::create(&tmp).map_err(|e| IoError::io(&tmp, e))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| IoError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| IoError::io(&path, e))
    }
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkRound {
    /// The round's number.
    pub round: u64,
    /// Events written, files and days touched.
    pub written: ExportReport,
    /// Users whose tombstone this round read.
    pub deleted_users: usize,
    /// Part files of earlier rounds rewritten (or removed) without a deleted user's rows.
    pub rewritten_files: u64,
}

/// Runs one round over `partitions` of the bus `source` into the lake at `out`. See the module
/// docs.
pub fn sink_round(
    partitions: &[&dyn EventLog],
    source: &str,
    out: &Path,
    options: &ExportOptions,
) -> Result<SinkRound, IoError> {
    std::fs::create_dir_all(out).map_err(|e| IoError::io(out, e))?;
    let state_path = out.join(SINK_STATE);
    let mut state = match SinkState::read(out)? {
        Some(s) => s,
        None => SinkState {
            source: source.to_string(),
            next_offsets: vec![0; partitions.len()],
            ..SinkState::default()
        },
    };
    if state.source != source {
        return Err(IoError::bad_file(
            &state_path,
            format!(
                "this lake is fed by {:?}, not {source:?}: one lake per bus",
                state.source
            ),
        ));
    }
    if state.next_offsets.len() != partitions.len() {
        return Err(IoError::bad_file(
            &state_path,
            format!(
                "recorded {} partitions, the bus has {}: a change of bus.partitions moves users \
                 between partitions, so start a new lake",
                state.next_offsets.len(),
                partitions.len()
            ),
        ));
    }
    let round = state.round + 1;
    let prefix = format!("part-r{round:08}-");
    // Files of this round left by an attempt that died before recording it.
    for file in part_files(out)? {
        if file_name(&file).starts_with(&prefix) {
            std::fs::remove_file(&file).map_err(|e| IoError::io(&file, e))?;
        }
    }
    let mut exporter: Exporter<'_, recd_types::Event> = Exporter::named(out, options, &prefix);
    let mut deleted: HashSet<UserId> = HashSet::new();
    let mut ends = Vec::with_capacity(partitions.len());
    let mut written = ExportReport::default();
    for (p, log) in partitions.iter().enumerate() {
        let (from, end) = (state.next_offsets[p], log.end_offset());
        ends.push(end.max(from));
        if end <= from {
            continue;
        }
        // Each user's last tombstone in this stretch: their events before it are forgotten.
        let mut last_tombstone = std::collections::HashMap::new();
        for next in log.read_from(from)? {
            let (offset, record) = next?;
            if offset >= end {
                break;
            }
            if let Record::UserDeleted { user, .. } = record {
                last_tombstone.insert(user, offset);
            }
        }
        for next in log.read_from(from)? {
            let (offset, record) = next?;
            if offset >= end {
                break;
            }
            written.n_records_read += 1;
            if let Record::Event(event) = record
                && last_tombstone
                    .get(&event.user_id)
                    .is_none_or(|&at| offset > at)
            {
                exporter.push(event)?;
            }
        }
        deleted.extend(last_tombstone.into_keys());
    }
    exporter.finish(&mut written)?;
    let rewritten_files = if deleted.is_empty() {
        0
    } else {
        forget(out, &prefix, &deleted, options)?
    };
    state.next_offsets = ends;
    state.round = round;
    state.n_events += written.n_events;
    state.write(out)?;
    Ok(SinkRound {
        round,
        written,
        deleted_users: deleted.len(),
        rewritten_files,
    })
}

/// Rewrites every part file not of the current round (`prefix`) that holds rows of `deleted`
/// users without them (removing a file left empty); returns how many were changed.
fn forget(
    out: &Path,
    prefix: &str,
    deleted: &HashSet<UserId>,
    options: &ExportOptions,
) -> Result<u64, IoError> {
    let mut changed = 0;
    for file in part_files(out)? {
        let name = file_name(&file);
        if name.starts_with(prefix) {
            continue;
        }
        let mut kept = Vec::new();
        let mut dropped = false;
        for event in read_events(&file, Format::Parquet)? {
            let event = event?;
            if deleted.contains(&event.user_id) {
                dropped = true;
            } else {
                kept.push(event);
            }
        }
        if !dropped {
            continue;
        }
        changed += 1;
        if kept.is_empty() {
            std::fs::remove_file(&file).map_err(|e| IoError::io(&file, e))?;
            continue;
        }
        rewrite(&file, kept, options)?;
    }
    Ok(changed)
}

/// Replaces `file` by a file of `rows` (written beside it, hidden, then renamed over it).
fn rewrite(
    file: &Path,
    rows: Vec<recd_types::Event>,
    options: &ExportOptions,
) -> Result<(), IoError> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.tmp", file_name(file)));
    let f = std::fs::File::create(&tmp).map_err(|e| IoError::io(&tmp, e))?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_max_row_group_row_count(Some(options.rows_per_group.max(1)))
        .build();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(f, recd_types::Event::schema(), Some(props))
            .map_err(|e| IoError::parquet(&tmp, e))?;
    for chunk in rows.chunks(options.batch_rows.max(1)) {
        let batch = recd_types::Event::batch(chunk).map_err(|e| IoError::parquet(&tmp, e))?;
        writer
            .write(&batch)
            .map_err(|e| IoError::parquet(&tmp, e))?;
    }
    let f = writer.into_inner().map_err(|e| IoError::parquet(&tmp, e))?;
    f.sync_all().map_err(|e| IoError::io(&tmp, e))?;
    std::fs::rename(&tmp, file).map_err(|e| IoError::io(file, e))
}

/// Every finished part file of the lake (`date=*/part-*.parquet`), and no hidden ones.
fn part_files(out: &Path) -> Result<Vec<PathBuf>, IoError> {
    let mut files = Vec::new();
    for day in std::fs::read_dir(out).map_err(|e| IoError::io(out, e))? {
        let day = day.map_err(|e| IoError::io(out, e))?.path();
        if !day.is_dir() || !file_name(&day).starts_with("date=") {
            continue;
        }
        for entry in std::fs::read_dir(&day).map_err(|e| IoError::io(&day, e))? {
            let path = entry.map_err(|e| IoError::io(&day, e))?.path();
            let name = file_name(&path);
            if name.starts_with("part-") && name.ends_with(".parquet") {
                files.push(path);
            } else if name.starts_with('.') && name.ends_with(".tmp") {
                // A file a crashed round or rewrite did not finish.
                std::fs::remove_file(&path).map_err(|e| IoError::io(&path, e))?;
            }
        }
    }
    files.sort();
    Ok(files)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use recd_store::{Store, StoreConfig};
    use recd_types::{Event, EventKind, ItemId};

    use super::*;

    const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
    const DAY_MS: i64 = 86_400_000;

    fn view(user: &str, k: i64) -> Event {
        Event::new(
            UserId::parse(user).unwrap(),
            Some(ItemId::parse(format!("i{k}")).unwrap()),
            EventKind::View,
            T0 + (k % 3) * DAY_MS + k,
        )
    }

    /// Every row of the lake, as (user, item).
    fn rows(out: &Path) -> Vec<(String, String)> {
        let mut all = Vec::new();
        for file in part_files(out).unwrap() {
            for e in read_events(&file, Format::Parquet).unwrap() {
                let e = e.unwrap();
                all.push((e.user_id.to_string(), e.item_id.unwrap().to_string()));
            }
        }
        all.sort();
        all
    }

    fn round(store: &Store, out: &Path) -> SinkRound {
        let log: &dyn EventLog = store.log().as_ref();
        sink_round(&[log], "redis://bus", out, &ExportOptions::default()).unwrap()
    }

    #[test]
    fn rounds_append_new_events_once_and_forget_deleted_users_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("data"), StoreConfig::default()).unwrap();
        let out = dir.path().join("lake");
        store
            .append_events((0..30).map(|k| view(&format!("u{}", k % 3), k)).collect())
            .unwrap();
        let first = round(&store, &out);
        assert_eq!((first.round, first.written.n_events), (1, 30));
        assert_eq!(rows(&out).len(), 30);
        // Nothing new: an empty round.
        assert_eq!(round(&store, &out).written.n_events, 0);
        assert_eq!(rows(&out).len(), 30);

        // u1 is deleted, then comes back as a new user; others go on.
        store
            .delete_user(UserId::parse("u1").unwrap(), T0 + 10 * DAY_MS)
            .unwrap();
        store
            .append_events(vec![view("u1", 100), view("u0", 101)])
            .unwrap();
        let third = round(&store, &out);
        assert_eq!(third.deleted_users, 1);
        assert!(third.rewritten_files >= 1, "{third:?}");
        let after = rows(&out);
        assert_eq!(after.len(), 30 - 10 + 2, "{after:?}");
        let u1: Vec<_> = after.iter().filter(|(u, _)| u == "u1").collect();
        assert_eq!(u1, vec![&("u1".to_string(), "i100".to_string())]);

        let state = SinkState::read(&out).unwrap().unwrap();
        assert_eq!(state.round, 3);
        assert_eq!(state.next_offsets, vec![store.log().end_offset()]);
    }

    #[test]
    fn a_round_that_died_before_recording_runs_again_without_doubling() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("data"), StoreConfig::default()).unwrap();
        let out = dir.path().join("lake");
        store
            .append_events((0..10).map(|k| view("u0", k)).collect())
            .unwrap();
        round(&store, &out);
        // Round 2 wrote its files, and died before recording: here, its files and a half file.
        store
            .append_events((10..16).map(|k| view("u0", k)).collect())
            .unwrap();
        round(&store, &out);
        let mut state = SinkState::read(&out).unwrap().unwrap();
        state.round = 1;
        state.next_offsets = vec![10];
        state.write(&out).unwrap();
        let day = out.join("date=2024-01-01");
        std::fs::write(day.join(".part-r00000002-00009.parquet.tmp"), b"half").unwrap();
        let again = round(&store, &out);
        assert_eq!((again.round, again.written.n_events), (2, 6));
        assert_eq!(rows(&out).len(), 16, "no event doubled or lost");
        assert!(!day.join(".part-r00000002-00009.parquet.tmp").exists());
    }

    #[test]
    fn a_lake_is_fed_by_one_bus_with_one_partition_count() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("data"), StoreConfig::default()).unwrap();
        let out = dir.path().join("lake");
        round(&store, &out);
        let log: &dyn EventLog = store.log().as_ref();
        let options = ExportOptions::default();
        let other = sink_round(&[log], "kafka://x/t", &out, &options).unwrap_err();
        assert!(other.to_string().contains("one lake per bus"), "{other}");
        let wider = sink_round(&[log, log], "redis://bus", &out, &options).unwrap_err();
        assert!(wider.to_string().contains("bus.partitions"), "{wider}");
    }
}
