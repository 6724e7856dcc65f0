//! The catalog of a scaled deployment: every process applies the bus's catalog channel to its
//! own copy (DECISIONS §3), an API process to its data dir's catalog, an updater to the item
//! categories it counts trending by.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use recd_bus::{CatalogFollower, EventBus};
use recd_store::Store;
use recd_stream::CategoryLookup;
use recd_types::{Item, ItemId, Record, User};

/// Applies the catalog channel to `store`'s catalog, from the channel's start: items and
/// profiles this catalog does not already hold as they are, and profile deletions.
pub fn follow_into_store(bus: &dyn EventBus, store: Arc<Store>) -> anyhow::Result<CatalogFollower> {
    Ok(CatalogFollower::start(bus, move |records| {
        apply(&store, records).map_err(|e| e.to_string())
    })?)
}

/// Consecutive items and profiles are written in one batch each (one sync of the data dir's
/// log per batch, not per record: a new process replays the whole channel); a deletion
/// first writes what came before it, so a profile written after a deletion stays.
fn apply(store: &Store, records: &[Record]) -> anyhow::Result<()> {
    let mut items: Vec<(i64, Item)> = Vec::new();
    let mut users: Vec<(i64, User)> = Vec::new();
    for record in records {
        match record {
            Record::Item { at_ms, item } => {
                if store.catalog().get_item(item.id.as_str())?.as_ref() != Some(item) {
                    items.push((*at_ms, item.clone()));
                }
            }
            Record::User { at_ms, user } => {
                if store.catalog().get_user(user.id.as_str())?.as_ref() != Some(user) {
                    users.push((*at_ms, user.clone()));
                }
            }
            Record::UserDeleted { user, .. } => {
                flush(store, &mut items, &mut users)?;
                store.catalog().delete_user(user.as_str())?;
            }
            Record::Event(_) | Record::Impression(_) => {}
        }
    }
    flush(store, &mut items, &mut users)
}

fn flush(
    store: &Store,
    items: &mut Vec<(i64, Item)>,
    users: &mut Vec<(i64, User)>,
) -> anyhow::Result<()> {
    if let Some(at) = items.iter().map(|(at, _)| *at).max() {
        store.upsert_items(items.drain(..).map(|(_, i)| i).collect(), at)?;
    }
    if let Some(at) = users.iter().map(|(at, _)| *at).max() {
        store.upsert_users(users.drain(..).map(|(_, u)| u).collect(), at)?;
    }
    Ok(())
}

/// Item categories kept up to date from the catalog channel, over those read at start.
#[derive(Default)]
pub struct FollowedCategories {
    categories: RwLock<HashMap<ItemId, Option<String>>>,
    /// Where the channel does not name an item (read once at start, from a data dir).
    fallback: Option<Arc<dyn CategoryLookup>>,
}

impl FollowedCategories {
    /// Follows `bus`'s catalog channel into a category map; `fallback` answers for items the
    /// channel never named.
    pub fn follow(
        bus: &dyn EventBus,
        fallback: Option<Arc<dyn CategoryLookup>>,
    ) -> anyhow::Result<(Arc<Self>, CatalogFollower)> {
        let map = Arc::new(Self {
            categories: RwLock::default(),
            fallback,
        });
        let target = map.clone();
        let follower = CatalogFollower::start(bus, move |records| {
            let mut categories = target.categories.write().unwrap_or_else(|p| p.into_inner());
            for record in records {
                if let Record::Item { item, .. } = record {
                    categories.insert(item.id.clone(), item.category.clone());
                }
            }
            Ok(())
        })?;
        Ok((map, follower))
    }
}

impl CategoryLookup for FollowedCategories {
    fn category(&self, item: &ItemId) -> Option<String> {
        let known = self
            .categories
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(item)
            .cloned();
        match known {
            Some(category) => category,
            None => self.fallback.as_ref().and_then(|f| f.category(item)),
        }
    }

    /// The channel changes categories behind the updater's back.
    fn cacheable(&self) -> bool {
        false
    }
}
