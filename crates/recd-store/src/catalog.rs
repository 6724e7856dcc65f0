//! The catalog and user store: current items and profiles, keyed by external id, in redb.
//!
//! Why redb: get and scan must work without loading a million profiles into memory, writes
//! come in batches (one durable transaction per batch), and it is pure Rust with a short build.
//! The store writes here first and then appends the change to the event log (see `Store`), so
//! the catalog always holds at least what the log says; a deletion goes the other way (the
//! tombstone first, then the removal here), for the same reason.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use recd_types::{Item, User};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::StoreError;

const ITEMS: TableDefinition<&str, &[u8]> = TableDefinition::new("items");
const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");

/// Current items and user profiles.
pub struct Catalog {
    path: PathBuf,
    db: Database,
    /// Bumped after each committed item write; see [`Catalog::items_generation`].
    items_generation: AtomicU64,
}

impl Catalog {
    /// Opens (or creates) the catalog database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let db = Database::create(&path).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(ITEMS).map_err(db_err)?;
        txn.open_table(USERS).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self {
            path,
            db,
            items_generation: AtomicU64::new(0),
        })
    }

    /// Inserts or replaces `items` in one durable transaction.
    pub fn upsert_items(&self, items: &[Item]) -> Result<(), StoreError> {
        self.put(ITEMS, items.iter().map(|i| (i.id.as_str(), i)))?;
        self.items_generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// A number that changes after every committed item write (0 when opened). Read it
    /// before a scan and compare later: equal means the scan is still current, so a reader
    /// such as the server's catalog view can skip rebuilding (a rebuild reads every item).
    /// Sees every change: redb locks the file, so this process is the only
    /// writer, and the bump follows the commit (a reader may rebuild once more than needed,
    /// never once less).
    pub fn items_generation(&self) -> u64 {
        self.items_generation.load(Ordering::Acquire)
    }

    /// Inserts or replaces `users` in one durable transaction.
    pub fn upsert_users(&self, users: &[User]) -> Result<(), StoreError> {
        self.put(USERS, users.iter().map(|u| (u.id.as_str(), u)))
    }

    /// Removes the profile of user `id` in one durable transaction; false if there was none.
    pub fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let removed = {
            let mut t = txn.open_table(USERS).map_err(db_err)?;
            t.remove(id).map_err(db_err)?.is_some()
        };
        txn.commit().map_err(db_err)?;
        Ok(removed)
    }

    /// The item with this id.
    pub fn get_item(&self, id: &str) -> Result<Option<Item>, StoreError> {
        self.get(ITEMS, id)
    }

    /// Which of `ids` have no item in the catalog (positions in `ids`), from one snapshot
    /// and without decoding any item: cheap enough to check every ingested batch.
    pub fn missing_items(&self, ids: &[&str]) -> Result<Vec<usize>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let t = txn.open_table(ITEMS).map_err(db_err)?;
        let mut missing = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            if t.get(*id).map_err(db_err)?.is_none() {
                missing.push(i);
            }
        }
        Ok(missing)
    }

    /// The user profile with this id.
    pub fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.get(USERS, id)
    }

    /// Number of items.
    pub fn n_items(&self) -> Result<u64, StoreError> {
        self.len(ITEMS)
    }

    /// Number of user profiles.
    pub fn n_users(&self) -> Result<u64, StoreError> {
        self.len(USERS)
    }

    /// Calls `f` on every item in id order, one at a time (memory stays bounded).
    pub fn for_each_item(&self, f: impl FnMut(Item)) -> Result<(), StoreError> {
        self.scan(ITEMS, f)
    }

    /// Calls `f` on every user profile in id order, one at a time.
    pub fn for_each_user(&self, f: impl FnMut(User)) -> Result<(), StoreError> {
        self.scan(USERS, f)
    }

    /// Up to `limit` items in id order after skipping the first `offset`, and the number of
    /// items, both from one snapshot (a concurrent write cannot make them disagree). The
    /// skipped rows are walked but not decoded: the cost grows with `offset`.
    pub fn items_page(&self, offset: usize, limit: usize) -> Result<(Vec<Item>, u64), StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let t = txn.open_table(ITEMS).map_err(db_err)?;
        let total = t.len().map_err(db_err)?;
        let mut res = Vec::with_capacity(limit.min(1024));
        for row in t.iter().map_err(db_err)?.skip(offset).take(limit) {
            let (k, v) = row.map_err(db_err)?;
            res.push(self.decode(k.value(), v.value())?);
        }
        Ok((res, total))
    }

    fn put<'a, T: Serialize + 'a>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        rows: impl Iterator<Item = (&'a str, &'a T)>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut t = txn.open_table(table).map_err(db_err)?;
            for (key, value) in rows {
                let bytes =
                    postcard::to_stdvec(value).map_err(|e| StoreError::Catalog(e.to_string()))?;
                t.insert(key, bytes.as_slice()).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    fn get<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let t = txn.open_table(table).map_err(db_err)?;
        match t.get(key).map_err(db_err)? {
            Some(v) => self.decode(key, v.value()).map(Some),
            None => Ok(None),
        }
    }

    fn len(&self, table: TableDefinition<&str, &[u8]>) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        txn.open_table(table).map_err(db_err)?.len().map_err(db_err)
    }

    fn scan<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        mut f: impl FnMut(T),
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let t = txn.open_table(table).map_err(db_err)?;
        for row in t.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            f(self.decode(k.value(), v.value())?);
        }
        Ok(())
    }

    fn decode<T: DeserializeOwned>(&self, key: &str, bytes: &[u8]) -> Result<T, StoreError> {
        postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            reason: format!("row {key:?}: {e}"),
        })
    }
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Catalog(e.into().to_string())
}

#[cfg(test)]
mod tests {
    use recd_types::{ItemId, UserId};

    use super::*;

    #[test]
    fn upsert_get_scan() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path().join("catalog.redb")).unwrap();
        let mut a = Item::new(ItemId::parse("a").unwrap(), "A");
        let b = Item::new(ItemId::parse("b").unwrap(), "B");
        assert_eq!(catalog.items_generation(), 0);
        catalog.upsert_items(&[a.clone(), b.clone()]).unwrap();
        let after_first = catalog.items_generation();
        assert_ne!(after_first, 0);
        a.available = false;
        catalog.upsert_items(std::slice::from_ref(&a)).unwrap();
        let after_second = catalog.items_generation();
        assert_ne!(after_second, after_first);
        catalog
            .upsert_users(&[User::new(UserId::parse("u").unwrap())])
            .unwrap();
        assert_eq!(
            catalog.items_generation(),
            after_second,
            "users are not items"
        );
        drop(catalog);

        let catalog = Catalog::open(dir.path().join("catalog.redb")).unwrap();
        assert_eq!(catalog.get_item("a").unwrap(), Some(a.clone()));
        assert_eq!(catalog.get_item("zz").unwrap(), None);
        assert_eq!(catalog.n_items().unwrap(), 2);
        assert_eq!(catalog.n_users().unwrap(), 1);
        let mut seen = Vec::new();
        catalog.for_each_item(|i| seen.push(i)).unwrap();
        assert_eq!(seen, vec![a, b]);
    }

    #[test]
    fn items_page_walks_id_order_with_the_total() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path().join("catalog.redb")).unwrap();
        // Written out of order: pages follow the ids' byte order, not the writes'.
        let items: Vec<Item> = ["c", "a", "e", "b", "d"]
            .iter()
            .map(|id| Item::new(ItemId::parse(*id).unwrap(), id.to_uppercase()))
            .collect();
        catalog.upsert_items(&items).unwrap();
        let ids = |offset, limit| {
            let (page, total) = catalog.items_page(offset, limit).unwrap();
            assert_eq!(total, 5);
            page.into_iter()
                .map(|i| i.id.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(0, 2), ["a", "b"]);
        assert_eq!(ids(2, 2), ["c", "d"]);
        assert_eq!(ids(4, 2), ["e"]);
        assert!(ids(5, 2).is_empty());
        assert!(ids(usize::MAX, 2).is_empty());
        assert_eq!(ids(1, 100), ["b", "c", "d", "e"]);
    }
}
