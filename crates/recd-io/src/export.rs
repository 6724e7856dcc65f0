//! `recd export`: the event history as Parquet partitioned by UTC day, the data-lake layout.
//!
//! Output: `OUT/date=YYYY-MM-DD/part-NNNNN.parquet` (Hive partitioning, which Spark, DuckDB and
//! Polars read as a `date` column), schema in [`crate::event_schema`], and, written last,
//! `OUT/_recd_export.json` ([`crate::ExportManifest`]: the log offsets and times it covers). Only `Record::Event`s
//! are exported; catalog and profile changes stay in the store.
//!
//! A deleted user's events logged before their tombstone (`Record::UserDeleted`) are not
//! exported; events after it are a new user's and are. The log is read twice for that: once
//! for the tombstones, once to write, because an event is written out before the log says
//! whether a later tombstone forgets it. Partitions written by an earlier export are the lake
//! owner's to rewrite: an export never touches a directory that already holds one.
//!
//! Memory is bounded whatever the log size and its time order: events wait in per-day buffers
//! capped in total ([`ExportOptions::max_pending_rows`]); a day's buffer goes to its file when
//! it is full or when it is the largest and the cap is hit. At most
//! [`ExportOptions::max_open_files`] writers are open: the least recently used is closed when
//! another day needs one, and that day gets a new part file if it shows up again. The open
//! writers' unfinished row groups share a byte budget ([`ExportOptions::max_buffered_bytes`]):
//! past it the biggest finishes its row group early. Files are
//! written under a hidden `.tmp` name and renamed when complete, so a reader never sees half a
//! file.

use std::collections::HashMap;

use std::fs::File;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use recd_store::EventLog;
use recd_types::{Event, Record, TimestampMs, UserId};

use crate::shown::{self, ShownRow};
use crate::{IoError, ProgressFn, columnar, time};

/// What an export writes rows of: events, or the items impressions showed.
pub(crate) trait Row: Sized {
    /// The row's time, which decides its day.
    fn time_ms(&self) -> TimestampMs;
    /// The Arrow schema of its files.
    fn schema() -> arrow_schema::SchemaRef;
    /// One batch of rows.
    fn batch(rows: &[Self]) -> Result<arrow_array::RecordBatch, arrow_schema::ArrowError>;
    /// Columns of mostly unique text: a dictionary would cost memory per open file and then
    /// fall back to plain encoding anyway.
    const UNIQUE: &'static [&'static str];
}

impl Row for Event {
    fn time_ms(&self) -> TimestampMs {
        self.timestamp_ms
    }
    fn schema() -> arrow_schema::SchemaRef {
        columnar::event_schema()
    }
    fn batch(rows: &[Self]) -> Result<arrow_array::RecordBatch, arrow_schema::ArrowError> {
        columnar::events_to_batch(rows)
    }
    const UNIQUE: &'static [&'static str] = &["query", "session_id", "request_id"];
}

impl Row for ShownRow {
    fn time_ms(&self) -> TimestampMs {
        self.impression.at_ms
    }
    fn schema() -> arrow_schema::SchemaRef {
        shown::impression_schema()
    }
    fn batch(rows: &[Self]) -> Result<arrow_array::RecordBatch, arrow_schema::ArrowError> {
        shown::to_batch(rows)
    }
    const UNIQUE: &'static [&'static str] = &["request_id"];
}

/// Settings of an export.
#[derive(Clone)]
pub struct ExportOptions {
    /// Keep events at or after this time (ms).
    pub since_ms: Option<TimestampMs>,
    /// Keep events before this time (ms).
    pub until_ms: Option<TimestampMs>,
    /// Rows per Parquet row group (the unit readers skip and parallelise by).
    pub rows_per_group: usize,
    /// Most part files open at once.
    pub max_open_files: usize,
    /// Most events buffered across all days before the biggest buffer is written out.
    pub max_pending_rows: usize,
    /// Rows per record batch handed to a writer.
    pub batch_rows: usize,
    /// Most bytes the open writers may buffer in unfinished row groups together; past it the
    /// biggest one finishes its row group early.
    pub max_buffered_bytes: usize,
    /// Called now and then with (log records read, log records to read).
    pub progress: Option<ProgressFn>,
    /// The log exported from (its directory), recorded in the export's manifest so that a
    /// compaction of another log never counts this export.
    pub source: Option<String>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            since_ms: None,
            until_ms: None,
            rows_per_group: 32 * 1024,
            max_open_files: 64,
            max_pending_rows: 128 * 1024,
            batch_rows: 8 * 1024,
            max_buffered_bytes: 64 << 20,
            progress: None,
            source: None,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Rows written: events, or for impressions the items shown.
    pub n_events: u64,
    /// Distinct days (partition directories) written.
    pub n_days: u64,
    /// Part files written.
    pub n_files: u64,
    /// Log records read (events, item and user changes).
    pub n_records_read: u64,
}

/// Writes every event of `log` in `[since, until)` under `out`.
///
/// `out` is created if needed; it must not already hold `date=` directories, so two exports
/// are never mixed into one data set.
pub fn export_events(
    log: &dyn EventLog,
    out: &Path,
    options: &ExportOptions,
) -> Result<ExportReport, IoError> {
    let end = log.end_offset();
    export_logs(&[(log, end)], end, out, options)
}

/// [`export_events`] over the partitions of an event bus, each read whole up to its end when
/// the export starts. A user's records are all in one partition, tombstones included, so each
/// partition's tombstones apply to its own events; offsets of different partitions are never
/// compared. The manifest's `end_offset` is 0: such an export covers no segment of a data
/// dir's log as far as `recd log compact` is concerned.
pub fn export_partitions(
    partitions: &[&dyn EventLog],
    out: &Path,
    options: &ExportOptions,
) -> Result<ExportReport, IoError> {
    let logs: Vec<(&dyn EventLog, u64)> = partitions.iter().map(|l| (*l, l.end_offset())).collect();
    export_logs(&logs, 0, out, options)
}

/// Writes the items shown by every impression of `impressions` (the impressions log) in
/// `[since, until)` under `out`, one row per item ([`crate::impression_schema`]), in the same
/// day partitions as events. A user deleted in `events` (the event log, whose tombstones say
/// when) loses the impressions made for them before the deletion, as their events are.
pub fn export_impressions(
    impressions: &dyn EventLog,
    events: &dyn EventLog,
    out: &Path,
    options: &ExportOptions,
) -> Result<ExportReport, IoError> {
    prepare_out_dir(out)?;
    let end = impressions.end_offset();
    let mut deleted_at: HashMap<UserId, TimestampMs> = HashMap::new();
    for next in events.read_from(0)? {
        if let (_, Record::UserDeleted { at_ms, user }) = next? {
            deleted_at.insert(user, at_ms);
        }
    }
    let mut exporter: Exporter<'_, ShownRow> = Exporter::new(out, options);
    let mut report = ExportReport::default();
    for next in impressions.read_from(0)? {
        let (offset, record) = next?;
        if offset >= end {
            break;
        }
        report.n_records_read += 1;
        let Record::Impression(impression) = record else {
            continue;
        };
        let forgotten = impression
            .user_id
            .as_ref()
            .and_then(|u| deleted_at.get(u))
            .is_some_and(|&at| impression.at_ms <= at);
        if forgotten
            || options.since_ms.is_some_and(|t| impression.at_ms < t)
            || options.until_ms.is_some_and(|t| impression.at_ms >= t)
        {
            continue;
        }
        let impression = std::sync::Arc::new(impression);
        for shown in &impression.items {
            exporter.push(ShownRow {
                impression: impression.clone(),
                shown: shown.clone(),
            })?;
        }
        if let Some(progress) = &options.progress
            && report.n_records_read % 65_536 == 0
        {
            progress(report.n_records_read, end);
        }
    }
    exporter.finish(&mut report)?;
    crate::ExportManifest {
        source: options.source.clone(),
        end_offset: end,
        since_ms: options.since_ms,
        until_ms: options.until_ms,
        n_events: report.n_events,
    }
    .write(out)?;
    if let Some(progress) = &options.progress {
        progress(report.n_records_read, end);
    }
    Ok(report)
}

/// Exports `logs`, each up to its end, in turn; `covered` is the manifest's `end_offset`.
fn export_logs(
    logs: &[(&dyn EventLog, u64)],
    covered: u64,
    out: &Path,
    options: &ExportOptions,
) -> Result<ExportReport, IoError> {
    prepare_out_dir(out)?;
    // Progress in offsets: records for the file log; only a rough measure on a bus.
    let total = logs.iter().fold(0u64, |t, (_, end)| t.saturating_add(*end));
    let mut exporter: Exporter<'_, Event> = Exporter::new(out, options);
    let mut report = ExportReport::default();
    for &(log, end) in logs {
        let deleted = tombstones(log, end)?;
        for next in log.read_from(0)? {
            let (offset, record) = next?;
            if offset >= end {
                // Records appended while we export belong to the next export.
                break;
            }
            report.n_records_read += 1;
            if let Record::Event(event) = record
                && deleted.get(&event.user_id).is_none_or(|&at| offset > at)
                && options.since_ms.is_none_or(|t| event.timestamp_ms >= t)
                && options.until_ms.is_none_or(|t| event.timestamp_ms < t)
            {
                exporter.push(event)?;
            }
            if let Some(progress) = &options.progress
                && report.n_records_read % 65_536 == 0
            {
                progress(report.n_records_read, total);
            }
        }
    }
    exporter.finish(&mut report)?;
    crate::ExportManifest {
        source: options.source.clone(),
        end_offset: covered,
        since_ms: options.since_ms,
        until_ms: options.until_ms,
        n_events: report.n_events,
    }
    .write(out)?;
    if let Some(progress) = &options.progress {
        progress(report.n_records_read, total);
    }
    Ok(report)
}

/// Each deleted user's last tombstone offset, before `end`.
fn tombstones(log: &dyn EventLog, end: u64) -> Result<HashMap<UserId, u64>, IoError> {
    let mut deleted = HashMap::new();
    for next in log.read_from(0)? {
        let (offset, record) = next?;
        if offset >= end {
            break;
        }
        if let Record::UserDeleted { user, .. } = record {
            deleted.insert(user, offset);
        }
    }
    Ok(deleted)
}

fn prepare_out_dir(out: &Path) -> Result<(), IoError> {
    std::fs::create_dir_all(out).map_err(|e| IoError::io(out, e))?;
    for entry in std::fs::read_dir(out).map_err(|e| IoError::io(out, e))? {
        let entry = entry.map_err(|e| IoError::io(out, e))?;
        if entry.file_name().to_string_lossy().starts_with("date=") {
            return Err(IoError::bad_file(
                out,
                "already holds an export (date=... directories); choose an empty directory",
            ));
        }
    }
    Ok(())
}

/// One open part file.
struct PartFile {
    writer: ArrowWriter<File>,
    tmp: PathBuf,
    path: PathBuf,
    last_used: u64,
}

pub(crate) struct Exporter<'a, R> {
    out: &'a Path,
    options: &'a ExportOptions,
    /// Part files are `<prefix>NNNNN.parquet`.
    prefix: String,
    pending: HashMap<Date, Vec<R>>,
    n_pending: usize,
    open: HashMap<Date, PartFile>,
    next_part: HashMap<Date, u32>,
    clock: u64,
    n_events: u64,
    n_files: u64,
}

impl<'a, R: Row> Exporter<'a, R> {
    pub(crate) fn new(out: &'a Path, options: &'a ExportOptions) -> Self {
        Self::named(out, options, "part-")
    }

    /// Part files named `<prefix>NNNNN.parquet` (a continuous sink names each round's own).
    pub(crate) fn named(out: &'a Path, options: &'a ExportOptions, prefix: &str) -> Self {
        Self {
            out,
            options,
            prefix: prefix.to_string(),
            pending: HashMap::new(),
            n_pending: 0,
            open: HashMap::new(),
            next_part: HashMap::new(),
            clock: 0,
            n_events: 0,
            n_files: 0,
        }
    }

    pub(crate) fn push(&mut self, row: R) -> Result<(), IoError> {
        let at = row.time_ms();
        let day = time::utc_day(at).ok_or_else(|| {
            IoError::bad_file(self.out, format!("time {at} ms has no calendar day"))
        })?;
        let buffer = self.pending.entry(day).or_default();
        buffer.push(row);
        self.n_pending += 1;
        if buffer.len() >= self.options.batch_rows.max(1) {
            self.flush_day(day)?;
        } else if self.n_pending >= self.options.max_pending_rows.max(1) {
            let biggest = self
                .pending
                .iter()
                .max_by_key(|(_, events)| events.len())
                .map(|(day, _)| *day);
            if let Some(day) = biggest {
                self.flush_day(day)?;
            }
        }
        Ok(())
    }

    fn flush_day(&mut self, day: Date) -> Result<(), IoError> {
        let Some(events) = self.pending.remove(&day) else {
            return Ok(());
        };
        if events.is_empty() {
            return Ok(());
        }
        self.n_pending -= events.len();
        self.clock += 1;
        let clock = self.clock;
        let part = self.part_for(day)?;
        part.last_used = clock;
        let batch = R::batch(&events).map_err(|e| IoError::parquet(&part.tmp, e))?;
        part.writer
            .write(&batch)
            .map_err(|e| IoError::parquet(&part.tmp, e))?;
        self.n_events += events.len() as u64;
        self.bound_buffers()
    }

    /// Keeps the writers' unfinished row groups under the byte budget. Each open writer holds
    /// its current row group (pages and dictionaries) in memory, so with many days open the
    /// row-count limit alone would let memory grow with the number of open files.
    fn bound_buffers(&mut self) -> Result<(), IoError> {
        loop {
            let total: usize = self.open.values().map(|p| p.writer.memory_size()).sum();
            if total <= self.options.max_buffered_bytes {
                return Ok(());
            }
            let Some(part) = self
                .open
                .values_mut()
                .max_by_key(|p| p.writer.memory_size())
            else {
                return Ok(());
            };
            if part.writer.in_progress_rows() == 0 {
                return Ok(());
            }
            part.writer
                .flush()
                .map_err(|e| IoError::parquet(&part.tmp, e))?;
        }
    }

    /// The open part file of `day`, opening one (and closing the least recently used) if needed.
    fn part_for(&mut self, day: Date) -> Result<&mut PartFile, IoError> {
        if !self.open.contains_key(&day) {
            if self.open.len() >= self.options.max_open_files.max(1) {
                let lru = self
                    .open
                    .iter()
                    .min_by_key(|(_, p)| p.last_used)
                    .map(|(d, _)| *d);
                if let Some(lru) = lru
                    && let Some(part) = self.open.remove(&lru)
                {
                    close(part)?;
                }
            }
            let part = self.open_part(day)?;
            self.open.insert(day, part);
        }
        self.open
            .get_mut(&day)
            .ok_or_else(|| IoError::bad_file(self.out, "internal: part file vanished"))
    }

    fn open_part(&mut self, day: Date) -> Result<PartFile, IoError> {
        let dir = self.out.join(format!("date={day}"));
        std::fs::create_dir_all(&dir).map_err(|e| IoError::io(&dir, e))?;
        let n = self.next_part.entry(day).or_insert(0);
        let path = dir.join(format!("{}{n:05}.parquet", self.prefix));
        // Hidden until complete: Spark, Hive and DuckDB skip names starting with a dot.
        let tmp = dir.join(format!(".{}{n:05}.parquet.tmp", self.prefix));
        *n += 1;
        let file = File::create(&tmp).map_err(|e| IoError::io(&tmp, e))?;
        let mut props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(self.options.rows_per_group.max(1)));
        for column in R::UNIQUE {
            props = props.set_column_dictionary_enabled(ColumnPath::from(*column), false);
        }
        let props = props.build();
        let writer = ArrowWriter::try_new(file, R::schema(), Some(props))
            .map_err(|e| IoError::parquet(&tmp, e))?;
        self.n_files += 1;
        Ok(PartFile {
            writer,
            tmp,
            path,
            last_used: 0,
        })
    }

    pub(crate) fn finish(mut self, report: &mut ExportReport) -> Result<(), IoError> {
        let mut days: Vec<Date> = self.pending.keys().copied().collect();
        days.sort();
        for day in days {
            self.flush_day(day)?;
        }
        for (_, part) in self.open.drain() {
            close(part)?;
        }
        report.n_events = self.n_events;
        report.n_days = self.next_part.len() as u64;
        report.n_files = self.n_files;
        Ok(())
    }
}

/// Finishes a part file, syncs it and gives it its final name.
fn close(part: PartFile) -> Result<(), IoError> {
    let file = part
        .writer
        .into_inner()
        .map_err(|e| IoError::parquet(&part.tmp, e))?;
    file.sync_all().map_err(|e| IoError::io(&part.tmp, e))?;
    std::fs::rename(&part.tmp, &part.path).map_err(|e| IoError::io(&part.path, e))
}

#[cfg(test)]
mod tests {
    use recd_store::{Store, StoreConfig};
    use recd_types::{EventKind, ItemId, UserId};

    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;
    use crate::{Format, read_events};

    const DAY_MS: i64 = 86_400_000;
    const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z

    /// Events spread over 5 days, out of time order, with every optional field on some.
    fn events(n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let user = UserId::parse(format!("u{}", i % 7)).unwrap();
                let item = Some(ItemId::parse(format!("i{}", i % 11)).unwrap());
                let ts = T0 + (i as i64 * 7919 % 5) * DAY_MS + i as i64;
                let mut e = Event::new(user, item, EventKind::View, ts);
                if i % 3 == 0 {
                    e.kind = EventKind::Rating;
                    e.value = Some(0.5 + (i % 10) as f32 * 0.5);
                }
                if i % 4 == 0 {
                    e.session_id = Some(format!("s{i}"));
                    e.context.device = Some("mobile".into());
                    e.context.extra.insert("ab".into(), "b".into());
                    e.dwell_ms = Some(i as u32);
                }
                e
            })
            .collect()
    }

    fn store_with(events: Vec<Event>) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("data"), StoreConfig::default()).unwrap();
        store.append_events(events).unwrap();
        (dir, store)
    }

    #[test]
    fn the_manifest_says_what_the_export_covers() {
        let mut two = events(2);
        two[0].timestamp_ms = T0;
        two[1].timestamp_ms = T0 + DAY_MS;
        let (_dir, store) = store_with(two);
        let out = tempfile::tempdir().unwrap();
        let options = ExportOptions {
            since_ms: Some(T0 + 1),
            source: Some("/the/log".into()),
            ..ExportOptions::default()
        };
        export_events(store.log().as_ref(), out.path(), &options).unwrap();
        let manifest = crate::ExportManifest::read(out.path()).unwrap();
        assert_eq!(manifest.end_offset, store.log().end_offset());
        assert_eq!(manifest.since_ms, Some(T0 + 1));
        assert_eq!(manifest.n_events, 1);
        assert_eq!(manifest.source.as_deref(), Some("/the/log"));
    }

    /// Every exported event, read back through the Parquet importer, sorted by time.
    fn read_back(out: &Path) -> (Vec<Event>, Vec<String>) {
        let mut files = Vec::new();
        let mut back = Vec::new();
        for day in std::fs::read_dir(out).unwrap() {
            let day = day.unwrap();
            if day.file_name() == crate::EXPORT_MANIFEST {
                continue;
            }
            for part in std::fs::read_dir(day.path()).unwrap() {
                let part = part.unwrap().path();
                let day_name = day.file_name().to_string_lossy().into_owned();
                files.push(format!(
                    "{day_name}/{}",
                    part.file_name().unwrap().to_string_lossy()
                ));
                for e in read_events(&part, Format::Auto).unwrap() {
                    let e = e.unwrap();
                    assert_eq!(
                        format!("date={}", time::utc_day(e.timestamp_ms).unwrap()),
                        day_name
                    );
                    back.push(e);
                }
            }
        }
        back.sort_by_key(|e| e.timestamp_ms);
        files.sort();
        (back, files)
    }

    #[test]
    fn a_deleted_users_events_before_the_tombstone_are_left_out() {
        let all = events(70);
        let (dir, store) = store_with(all.clone());
        let gone = UserId::parse("u3").unwrap();
        store.delete_user(gone.clone(), T0).unwrap().unwrap();
        let mut again = events(1);
        again[0].user_id = gone.clone();
        again[0].event_id = Some("after".into());
        store.append_events(again.clone()).unwrap();
        let out = dir.path().join("out");
        let report = export_events(store.log().as_ref(), &out, &ExportOptions::default()).unwrap();
        let (back, _) = read_back(&out);
        let of_gone: Vec<&Event> = back.iter().filter(|e| e.user_id == gone).collect();
        assert_eq!(
            of_gone,
            vec![&again[0]],
            "only the new life, with its event id"
        );
        assert_eq!(report.n_events, 60 + 1);
        assert_eq!(back.len(), 61);
    }

    #[test]
    fn export_round_trips_through_parquet_import() {
        let (dir, store) = store_with(events(1000));
        let out = dir.path().join("out");
        let report = export_events(store.log().as_ref(), &out, &ExportOptions::default()).unwrap();
        assert_eq!(
            (report.n_events, report.n_days, report.n_files),
            (1000, 5, 5)
        );
        let (back, files) = read_back(&out);
        let mut expected = events(1000);
        expected.sort_by_key(|e| e.timestamp_ms);
        assert_eq!(back, expected);
        assert_eq!(files[0], "date=2024-01-01/part-00000.parquet");
        let err = export_events(store.log().as_ref(), &out, &ExportOptions::default()).unwrap_err();
        assert!(err.to_string().contains("already holds an export"), "{err}");
    }

    #[test]
    fn few_open_files_and_small_buffers_still_lose_nothing() {
        let (dir, store) = store_with(events(1000));
        let out = dir.path().join("out");
        let options = ExportOptions {
            max_open_files: 2,
            max_pending_rows: 50,
            batch_rows: 20,
            rows_per_group: 30,
            ..ExportOptions::default()
        };
        let report = export_events(store.log().as_ref(), &out, &options).unwrap();
        assert_eq!((report.n_events, report.n_days), (1000, 5));
        assert!(
            report.n_files > 5,
            "LRU closing should have made more parts"
        );
        let (back, files) = read_back(&out);
        assert_eq!(files.len() as u64, report.n_files);
        assert!(files.iter().all(|f| f.ends_with(".parquet")), "{files:?}");
        let mut expected = events(1000);
        expected.sort_by_key(|e| e.timestamp_ms);
        assert_eq!(back, expected);
    }

    #[test]
    fn the_byte_budget_ends_row_groups_early() {
        let (dir, store) = store_with(events(1000));
        let out = dir.path().join("out");
        let options = ExportOptions {
            max_buffered_bytes: 1,
            batch_rows: 10,
            ..ExportOptions::default()
        };
        let report = export_events(store.log().as_ref(), &out, &options).unwrap();
        assert_eq!((report.n_events, report.n_files), (1000, 5));
        let part = out.join("date=2024-01-01/part-00000.parquet");
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(part).unwrap()).unwrap();
        // 200 events of that day, written 10 at a time, each write over budget.
        assert_eq!(reader.metadata().num_row_groups(), 20);
        assert_eq!(read_back(&out).0.len(), 1000);
    }

    #[test]
    fn since_until_select_a_half_open_range() {
        let (dir, store) = store_with(events(100));
        let out = dir.path().join("out");
        let options = ExportOptions {
            since_ms: Some(T0 + DAY_MS),
            until_ms: Some(T0 + 3 * DAY_MS),
            ..ExportOptions::default()
        };
        let report = export_events(store.log().as_ref(), &out, &options).unwrap();
        let expected: Vec<Event> = events(100)
            .into_iter()
            .filter(|e| (T0 + DAY_MS..T0 + 3 * DAY_MS).contains(&e.timestamp_ms))
            .collect();
        assert_eq!(report.n_events, expected.len() as u64);
        assert_eq!(report.n_days, 2);
        assert_eq!(read_back(&out).0.len(), expected.len());
    }

    #[test]
    fn item_and_user_records_are_not_exported() {
        let (dir, store) = store_with(events(10));
        let item = recd_types::Item::new(ItemId::parse("x").unwrap(), "X");
        store.upsert_items(vec![item], T0).unwrap();
        let report = export_events(
            store.log().as_ref(),
            &dir.path().join("out"),
            &ExportOptions::default(),
        )
        .unwrap();
        assert_eq!((report.n_records_read, report.n_events), (11, 10));
    }
}
