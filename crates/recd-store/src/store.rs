//! `Store`: one data dir's log, id maps and catalog behind one handle.
//!
//! Every write path of the engine goes through here, so the rules hold in one place:
//! records are validated before anything is written; ids are interned (and synced) before the
//! log append that names them; catalog changes go to the catalog and then to the log, and a
//! user's deletion goes to the log (the tombstone) and then to the catalog, so that a crash
//! in between leaves the catalog holding at least what the log says.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use recd_types::{Event, Item, Record, TimestampMs, User, UserId};
use serde::{Deserialize, Serialize};

use crate::{Catalog, EventLog, FileLog, IdMap, LogConfig, Offset, ReadOnlyLog, StoreError};

/// `[store]`: settings of the embedded store of a data dir.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// A log segment is closed and a new one started once the next append would take it past
    /// this size, in bytes.
    pub segment_bytes: u64,
    /// How long the log's writer waits for more appends to share one fsync, in µs (0: sync
    /// at once, batching only what queued during the previous sync).
    pub group_commit_window_us: u64,
    /// `[store.retention]`: when the server deletes old segments of the event and
    /// impressions logs.
    pub retention: crate::retention::RetentionConfig,
}

impl Default for StoreConfig {
    fn default() -> Self {
        let log = LogConfig::default();
        Self {
            segment_bytes: log.segment_bytes,
            group_commit_window_us: log.group_commit_window.as_micros() as u64,
            retention: crate::retention::RetentionConfig::default(),
        }
    }
}

impl StoreConfig {
    /// The event log's settings.
    pub fn log(&self) -> LogConfig {
        LogConfig {
            segment_bytes: self.segment_bytes,
            group_commit_window: std::time::Duration::from_micros(self.group_commit_window_us),
        }
    }
}

/// The embedded store of one data dir.
pub struct Store {
    dir: PathBuf,
    log: Arc<dyn EventLog>,
    /// The same log, as the file log it is (for compaction beside the writer).
    file_log: Arc<FileLog>,
    users: IdMap,
    items: IdMap,
    catalog: Catalog,
    /// Every event id in the log, built on the first [`Store::append_events_once`].
    event_ids: Mutex<Option<EventIds>>,
}

/// The event ids of the log up to an offset.
struct EventIds {
    ids: HashSet<String>,
    until: Offset,
}

/// What [`Store::append_events_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedOnce {
    /// The offset of the first event appended, if any was.
    pub first_offset: Option<Offset>,
    /// Events not appended: their `event_id` was in the log already (or earlier in the batch).
    pub n_duplicates: usize,
}

impl Store {
    /// Opens (or creates) the store in `dir`, recovering the log's tail if needed.
    pub fn open(dir: impl AsRef<Path>, config: StoreConfig) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        let ids_dir = dir.join("ids");
        std::fs::create_dir_all(&ids_dir).map_err(|e| StoreError::io(&ids_dir, e))?;
        let file_log = Arc::new(FileLog::open(dir.join("log"), config.log())?);
        Ok(Self {
            log: file_log.clone(),
            file_log,
            users: IdMap::open(ids_dir.join("users.ids"))?,
            items: IdMap::open(ids_dir.join("items.ids"))?,
            catalog: Catalog::open(dir.join("catalog.redb"))?,
            event_ids: Mutex::new(None),
            dir,
        })
    }

    /// Opens the event log of the data dir `dir` read-only, beside the process that writes
    /// it (or with none): it takes no lock and writes nothing, and reads stop at the durable
    /// end the writer published. What training, exports and `recd events` read.
    pub fn open_log_reader(dir: impl AsRef<Path>) -> Result<ReadOnlyLog, StoreError> {
        ReadOnlyLog::open(dir.as_ref().join("log"))
    }

    /// Where the data dir `dir` keeps its impressions log: a log of its own beside the event
    /// log (same format, `Record::Impression` records only), written by the serving process.
    pub fn impressions_dir(dir: impl AsRef<Path>) -> PathBuf {
        dir.as_ref().join("impressions")
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The event log (to read from an offset, or to share with a consumer).
    pub fn log(&self) -> &Arc<dyn EventLog> {
        &self.log
    }

    /// The event log as the file log it is: what compaction works on.
    pub fn file_log(&self) -> &Arc<FileLog> {
        &self.file_log
    }

    /// The user id map.
    pub fn user_ids(&self) -> &IdMap {
        &self.users
    }

    /// The item id map.
    pub fn item_ids(&self) -> &IdMap {
        &self.items
    }

    /// The catalog and user store (reads; write through [`Store::upsert_items`] and friends).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Validates all `events`, then appends them durably; returns the first one's offset.
    /// If any event is invalid nothing is written and the error names its index and field.
    pub fn append_events(&self, events: Vec<Event>) -> Result<Offset, AppendError> {
        for (index, event) in events.iter().enumerate() {
            event
                .validate()
                .map_err(|source| AppendError::Invalid { index, source })?;
        }
        self.users
            .intern(events.iter().map(|e| e.user_id.as_str()))?;
        self.items.intern(
            events
                .iter()
                .filter_map(|e| e.item_id.as_ref().map(|i| i.as_str())),
        )?;
        let records: Vec<Record> = events.into_iter().map(Record::Event).collect();
        Ok(self.log.append(&records)?)
    }

    /// [`Store::append_events`] for events that may have been appended before (a file
    /// imported again): events whose `event_id` the log already holds, or an earlier event of
    /// the batch has, are left out. Events without an id are always appended.
    ///
    /// The first call reads every event id of the log into memory (about 100 bytes plus the
    /// id each) and later calls read only what was appended since; the log, not a window, is
    /// the reference, so this is for imports, not for the request path.
    pub fn append_events_once(&self, events: Vec<Event>) -> Result<AppendedOnce, AppendError> {
        for (index, event) in events.iter().enumerate() {
            event
                .validate()
                .map_err(|source| AppendError::Invalid { index, source })?;
        }
        let mut guard = self.event_ids.lock().unwrap_or_else(|p| p.into_inner());
        let known = guard.get_or_insert_with(|| EventIds {
            ids: HashSet::new(),
            until: 0,
        });
        for entry in self.log.read_from(known.until)? {
            let (offset, record) = entry?;
            known.until = offset + 1;
            if let Record::Event(Event {
                event_id: Some(id), ..
            }) = record
            {
                known.ids.insert(id);
            }
        }
        let n = events.len();
        let mut batch_ids = HashSet::new();
        let fresh: Vec<Event> = events
            .into_iter()
            .filter(|e| match &e.event_id {
                Some(id) => !known.ids.contains(id) && batch_ids.insert(id.clone()),
                None => true,
            })
            .collect();
        let n_duplicates = n - fresh.len();
        if fresh.is_empty() {
            return Ok(AppendedOnce {
                first_offset: None,
                n_duplicates,
            });
        }
        let n_fresh = fresh.len() as u64;
        let first = self.append_events(fresh)?;
        // Our own append needs no reading back, unless another writer appended in between.
        if first == known.until {
            known.ids.extend(batch_ids);
            known.until = first + n_fresh;
        }
        Ok(AppendedOnce {
            first_offset: Some(first),
            n_duplicates,
        })
    }

    /// Validates and upserts `items` (catalog first, then the log, stamped `at_ms`).
    pub fn upsert_items(
        &self,
        items: Vec<Item>,
        at_ms: TimestampMs,
    ) -> Result<Offset, AppendError> {
        for (index, item) in items.iter().enumerate() {
            item.validate()
                .map_err(|source| AppendError::Invalid { index, source })?;
        }
        self.items.intern(items.iter().map(|i| i.id.as_str()))?;
        self.catalog.upsert_items(&items)?;
        let records: Vec<Record> = items
            .into_iter()
            .map(|item| Record::Item { at_ms, item })
            .collect();
        Ok(self.log.append(&records)?)
    }

    /// Validates and upserts user profiles (catalog first, then the log, stamped `at_ms`).
    pub fn upsert_users(
        &self,
        users: Vec<User>,
        at_ms: TimestampMs,
    ) -> Result<Offset, AppendError> {
        for (index, user) in users.iter().enumerate() {
            user.validate()
                .map_err(|source| AppendError::Invalid { index, source })?;
        }
        self.users.intern(users.iter().map(|u| u.id.as_str()))?;
        self.catalog.upsert_users(&users)?;
        let records: Vec<Record> = users
            .into_iter()
            .map(|user| Record::User { at_ms, user })
            .collect();
        Ok(self.log.append(&records)?)
    }

    /// Deletes user `user`'s data at `at_ms`: appends a tombstone ([`Record::UserDeleted`]),
    /// then removes the profile from the catalog. Returns the tombstone's offset, or `None`
    /// (writing nothing) when no event or profile ever named the id.
    ///
    /// Deleting a deleted user again appends another tombstone: the call is idempotent in
    /// effect, and the log says when each request was made.
    pub fn delete_user(
        &self,
        user: UserId,
        at_ms: TimestampMs,
    ) -> Result<Option<Offset>, StoreError> {
        if self.users.get(user.as_str()).is_none() {
            return Ok(None);
        }
        let id = user.to_string();
        let offset = self.log.append(&[Record::UserDeleted { at_ms, user }])?;
        self.catalog.delete_user(&id)?;
        Ok(Some(offset))
    }
}

/// Why a batch write was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Entry `index` of the batch broke a rule; nothing of the batch was written.
    #[error("entry {index}: {source}")]
    Invalid {
        /// Position in the batch.
        index: usize,
        /// The broken rule.
        source: recd_types::ValidationError,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use recd_types::{EventKind, ItemId};

    use super::*;

    fn click(user: &str) -> Event {
        Event::new(
            UserId::parse(user).unwrap(),
            Some(ItemId::parse("i").unwrap()),
            EventKind::Click,
            1,
        )
    }

    #[test]
    fn deleting_a_user_logs_a_tombstone_and_removes_the_profile() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
        let unknown = UserId::parse("nobody").unwrap();
        assert_eq!(store.delete_user(unknown, 5).unwrap(), None);
        assert_eq!(
            store.log().end_offset(),
            0,
            "nothing written for an unknown id"
        );

        let u = UserId::parse("u").unwrap();
        store.append_events(vec![click("u")]).unwrap();
        store.upsert_users(vec![User::new(u.clone())], 2).unwrap();
        assert_eq!(store.delete_user(u.clone(), 5).unwrap(), Some(2));
        assert_eq!(store.catalog().get_user("u").unwrap(), None);
        let last = store.log().read_from(2).unwrap().next().unwrap().unwrap();
        assert_eq!(
            last,
            (
                2,
                Record::UserDeleted {
                    at_ms: 5,
                    user: u.clone()
                }
            )
        );
        // A user known only from events can be deleted too, and again.
        assert_eq!(store.delete_user(u, 6).unwrap(), Some(3));
    }

    #[test]
    fn events_with_ids_already_in_the_log_are_appended_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
        let with_id = |id: Option<&str>| {
            let mut e = click("u");
            e.event_id = id.map(String::from);
            e
        };
        store.append_events(vec![with_id(Some("a"))]).unwrap();
        let got = store
            .append_events_once(vec![
                with_id(Some("a")),
                with_id(None),
                with_id(Some("b")),
                with_id(Some("b")),
            ])
            .unwrap();
        assert_eq!(
            got,
            AppendedOnce {
                first_offset: Some(1),
                n_duplicates: 2
            }
        );
        // Another writer's append is read before the next batch is filtered.
        store.append_events(vec![with_id(Some("c"))]).unwrap();
        let got = store
            .append_events_once(vec![with_id(Some("b")), with_id(Some("c"))])
            .unwrap();
        assert_eq!(got.n_duplicates, 2);
        assert_eq!(got.first_offset, None);
        assert_eq!(store.log().end_offset(), 4);
        // A new handle rebuilds the ids from the log.
        drop(store);
        let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
        let got = store.append_events_once(vec![with_id(Some("a"))]).unwrap();
        assert_eq!(got.n_duplicates, 1);
    }
}
