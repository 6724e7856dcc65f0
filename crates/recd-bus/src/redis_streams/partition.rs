//! One partition of the bus read as an [`EventLog`], so the updater applies it as it applies
//! the embedded log: from an offset, in order, with gaps where records could not be read.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use recd_store::{EventLog, LogDamage, LogIter, Offset, StoreError};
use recd_types::Record;

use super::conn::Lazy;
use crate::BusPartition;
use crate::position::{id_of_offset, offset_of_id, offset_of_ms};

/// Entries fetched per `XRANGE`.
const PAGE: usize = 512;
/// Most damaged entries remembered for [`EventLog::damage`] (the count goes on in metrics).
const MAX_DAMAGE_KEPT: usize = 1_000;

/// A read view of one partition's stream. Appends go through the bus, not here.
pub struct PartitionLog {
    conn: Mutex<Lazy>,
    key: String,
    partition: u32,
    /// The last end read from Redis, answered while Redis cannot be asked.
    last_end: AtomicU64,
    damage: Mutex<BTreeSet<DamageEntry>>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct DamageEntry {
    id: String,
    offset: Offset,
    reason: String,
}

/// One stream entry as Redis returns it: id, then field/value pairs flattened.
type Entry = (String, Vec<Vec<u8>>);

impl PartitionLog {
    /// The stream's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    pub(crate) fn new(conn: Lazy, key: String, partition: u32) -> Self {
        Self {
            conn: Mutex::new(conn),
            key,
            partition,
            last_end: AtomicU64::new(0),
            damage: Mutex::new(BTreeSet::new()),
        }
    }

    fn unavailable(&self, e: crate::BusError) -> StoreError {
        StoreError::Closed(format!("stream {}: {e}", self.key))
    }

    /// Entries from `start` (an XRANGE bound: an id, or `(id` for after it).
    fn page(&self, start: &str) -> Result<Vec<Entry>, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.with(|c| {
            redis::cmd("XRANGE")
                .arg(&self.key)
                .arg(start)
                .arg("+")
                .arg("COUNT")
                .arg(PAGE)
                .query::<Vec<Entry>>(c)
        })
        .map_err(|e| self.unavailable(e))
    }

    /// The record of an entry, or why it is not one of ours (counted, logged, remembered).
    fn decode(&self, id: &str, fields: &[Vec<u8>]) -> Result<(Offset, Record), ()> {
        let offset = offset_of_id(id);
        let decoded = offset
            .ok_or_else(|| "the entry id is not one this bus writes".to_string())
            .and_then(|o| decode_fields(fields).map(|r| (o, r)));
        decoded.map_err(|reason| {
            metrics::counter!("recd_bus_malformed_total", "partition" => self.partition.to_string())
                .increment(1);
            let mut damage = self.damage.lock().unwrap_or_else(|p| p.into_inner());
            let entry = DamageEntry {
                id: id.to_string(),
                offset: offset.unwrap_or(0),
                reason,
            };
            if !damage.iter().any(|d| d.id == entry.id) && damage.len() < MAX_DAMAGE_KEPT {
                tracing::error!(
                    partition = self.partition,
                    stream = %self.key,
                    id,
                    reason = %entry.reason,
                    "malformed record on the event bus skipped"
                );
                damage.insert(entry);
            }
        })
    }
}

/// The record in the fields `s` (schema) and `r` (bytes).
fn decode_fields(fields: &[Vec<u8>]) -> Result<Record, String> {
    let mut schema = None;
    let mut bytes = None;
    for pair in fields.chunks(2) {
        match pair {
            [k, v] if k == b"s" => schema = Some(v),
            [k, v] if k == b"r" => bytes = Some(v),
            _ => {}
        }
    }
    let schema: u32 = std::str::from_utf8(schema.ok_or("no field s (record schema)")?)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or("field s is not a record schema number")?;
    recd_store::codec::decode_record(schema, bytes.ok_or("no field r (record)")?)
}

impl BusPartition for PartitionLog {
    fn partition(&self) -> u32 {
        self.partition
    }

    /// `XREAD BLOCK` past `from`.
    fn wait_for(&self, from: Offset, block: std::time::Duration) -> Result<bool, StoreError> {
        let after = if from == 0 {
            "0-0".to_string()
        } else {
            id_of_offset(from - 1)
        };
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let found: redis::Value = conn
            .with(|c| {
                redis::cmd("XREAD")
                    .arg("COUNT")
                    .arg(1)
                    .arg("BLOCK")
                    .arg(block.as_millis() as u64)
                    .arg("STREAMS")
                    .arg(&self.key)
                    .arg(&after)
                    .query(c)
            })
            .map_err(|e| self.unavailable(e))?;
        Ok(!matches!(found, redis::Value::Nil))
    }
}

impl EventLog for PartitionLog {
    fn append(&self, _records: &[Record]) -> Result<Offset, StoreError> {
        Err(StoreError::ReadOnly(PathBuf::from(&self.key)))
    }

    /// One past the newest entry's offset; the last known end while Redis cannot be asked.
    fn end_offset(&self) -> Offset {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let newest = conn.with(|c| {
            redis::cmd("XREVRANGE")
                .arg(&self.key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query::<Vec<Entry>>(c)
        });
        match newest {
            Ok(entries) => {
                // A foreign id past ours still moves the end, so that it is read and skipped.
                let end = entries
                    .first()
                    .map_or(0, |(id, _)| offset_of_id(id).map_or(u64::MAX, |o| o + 1));
                self.last_end.store(end, Ordering::Relaxed);
                end
            }
            Err(e) => {
                tracing::debug!(stream = %self.key, error = %e, "cannot read the stream's end");
                self.last_end.load(Ordering::Relaxed)
            }
        }
    }

    fn read_from(&self, offset: Offset) -> Result<LogIter<'_>, StoreError> {
        let end = self.end_offset();
        let first = self.page(&id_of_offset(offset))?;
        Ok(Box::new(Pages {
            log: self,
            more: first.len() == PAGE,
            page: first.into_iter(),
            last_id: None,
            end,
            done: false,
        }))
    }

    /// Entries appended before `ms` were appended before it, so their events are older
    /// (an event's time is at most its append time, bar clock skew).
    fn offset_for_time(&self, ms: recd_types::TimestampMs) -> Offset {
        offset_of_ms(ms)
    }

    fn damage(&self) -> Vec<LogDamage> {
        let damage = self.damage.lock().unwrap_or_else(|p| p.into_inner());
        damage
            .iter()
            .map(|d| LogDamage {
                segment: PathBuf::from(format!("{} {}", self.key, d.id)),
                byte_start: 0,
                byte_end: 0,
                first_lost: d.offset,
                n_lost: 1,
                exact: true,
                reason: d.reason.clone(),
                quarantined: None,
            })
            .collect()
    }
}

/// The records of a partition from an offset, a page at a time, up to the end as of the
/// call; malformed entries are skipped (a gap).
struct Pages<'a> {
    log: &'a PartitionLog,
    page: std::vec::IntoIter<Entry>,
    /// The last page was full: there may be more after it.
    more: bool,
    last_id: Option<String>,
    end: Offset,
    done: bool,
}

impl Iterator for Pages<'_> {
    type Item = Result<(Offset, Record), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let Some((id, fields)) = self.page.next() else {
                let (true, Some(last)) = (self.more, &self.last_id) else {
                    self.done = true;
                    return None;
                };
                match self.log.page(&format!("({last}")) {
                    Ok(page) if page.is_empty() => self.done = true,
                    Ok(page) => {
                        self.more = page.len() == PAGE;
                        self.page = page.into_iter();
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                // An empty page ends the walk.
                if self.done {
                    return None;
                }
                continue;
            };
            if offset_of_id(&id).is_some_and(|o| o >= self.end) {
                self.done = true;
                return None;
            }
            self.last_id = Some(id.clone());
            if let Ok(found) = self.log.decode(&id, &fields) {
                return Some(Ok(found));
            }
        }
    }
}
