//! Where the engine reads the live catalog and the user profiles: the writer's catalog
//! (`Store`, redb) in the serving process, or a copy rebuilt from the log's item and user
//! records ([`LogCatalog`]) in a process that only reads a data dir (`recd recommend` beside
//! a running server: redb opens in one process only).

use std::collections::BTreeMap;

use recd_store::{EventLog, Store, StoreError};
use recd_types::{Item, Record, User};

/// A catalog the engine can read.
pub trait CatalogSource: Send + Sync {
    /// A number that changes whenever an item is written: a catalog view built at one
    /// generation is current while the source still reports it.
    fn items_generation(&self) -> u64;
    /// Calls `f` with every item.
    fn for_each_item(&self, f: &mut dyn FnMut(Item)) -> Result<(), StoreError>;
    /// Calls `f` with every user profile.
    fn for_each_user(&self, f: &mut dyn FnMut(User)) -> Result<(), StoreError>;
    /// One user's profile.
    fn user(&self, id: &str) -> Result<Option<User>, StoreError>;
}

impl CatalogSource for Store {
    fn items_generation(&self) -> u64 {
        self.catalog().items_generation()
    }

    fn for_each_item(&self, f: &mut dyn FnMut(Item)) -> Result<(), StoreError> {
        self.catalog().for_each_item(f)
    }

    fn for_each_user(&self, f: &mut dyn FnMut(User)) -> Result<(), StoreError> {
        self.catalog().for_each_user(f)
    }

    fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.catalog().get_user(id)
    }
}

/// The catalog as the log's records leave it: the last item and profile record of each id,
/// without the profiles of users deleted after them (what the writer's catalog holds, read by
/// a process that may not open it).
#[derive(Debug, Clone, Default)]
pub struct LogCatalog {
    items: BTreeMap<String, Item>,
    users: BTreeMap<String, User>,
}

impl LogCatalog {
    /// Reads the catalog records of `log` up to its end as of this call (the compaction
    /// snapshot and per-segment sidecars where there are some: no event is decoded). They may
    /// come in any order: per item and per user, the record of the highest offset wins.
    pub fn read(log: &dyn EventLog) -> Result<Self, StoreError> {
        let mut items: BTreeMap<String, (u64, Item)> = BTreeMap::new();
        let mut users: BTreeMap<String, (u64, Option<User>)> = BTreeMap::new();
        for entry in log.read_catalog(log.end_offset())? {
            let (offset, record) = entry?;
            match record {
                Record::Item { item, .. } => {
                    let id = item.id.as_str().to_string();
                    if items.get(&id).is_none_or(|(o, _)| *o < offset) {
                        items.insert(id, (offset, item));
                    }
                }
                Record::User { user, .. } => {
                    let id = user.id.as_str().to_string();
                    if users.get(&id).is_none_or(|(o, _)| *o < offset) {
                        users.insert(id, (offset, Some(user)));
                    }
                }
                Record::UserDeleted { user, .. } => {
                    let id = user.as_str().to_string();
                    if users.get(&id).is_none_or(|(o, _)| *o < offset) {
                        users.insert(id, (offset, None));
                    }
                }
                Record::Event(_) | Record::Impression(_) => {}
            }
        }
        Ok(Self {
            items: items.into_iter().map(|(k, (_, i))| (k, i)).collect(),
            users: users
                .into_iter()
                .filter_map(|(k, (_, u))| Some((k, u?)))
                .collect(),
        })
    }

    /// The item of `id`, if the log has one.
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.get(id)
    }
}

impl CatalogSource for LogCatalog {
    fn items_generation(&self) -> u64 {
        // Read once and never changed.
        0
    }

    fn for_each_item(&self, f: &mut dyn FnMut(Item)) -> Result<(), StoreError> {
        self.items.values().cloned().for_each(f);
        Ok(())
    }

    fn for_each_user(&self, f: &mut dyn FnMut(User)) -> Result<(), StoreError> {
        self.users.values().cloned().for_each(f);
        Ok(())
    }

    fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        Ok(self.users.get(id).cloned())
    }
}

/// No catalog: the model's own view of its items, no profiles (tests).
impl CatalogSource for () {
    fn items_generation(&self) -> u64 {
        0
    }

    fn for_each_item(&self, _: &mut dyn FnMut(Item)) -> Result<(), StoreError> {
        Ok(())
    }

    fn for_each_user(&self, _: &mut dyn FnMut(User)) -> Result<(), StoreError> {
        Ok(())
    }

    fn user(&self, _: &str) -> Result<Option<User>, StoreError> {
        Ok(None)
    }
}
