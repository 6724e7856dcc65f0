//! The catalog of a scaled deployment: every process applies the bus's catalog channel to its
//! own copy (DECISIONS §3), an API process to its data dir's catalog, an updater to the item
//! categories it counts trending by.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use recd_bus::{BusPartition, CatalogFollower, EventBus};
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

/// How long a lookup of an item nobody named waits for the catalog channel to be applied
/// up to its end (see [`FollowedCategories`]).
const SYNC_WAIT: Duration = Duration::from_millis(500);

/// Item categories kept up to date from the catalog channel, over those read at start.
///
/// The catalog channel and the event partitions are separate channels, so an event can be
/// applied before the item record that preceded it reaches this process's follower (an item
/// put, then viewed at once). A lookup of an item not known yet therefore first waits (up to
/// [`SYNC_WAIT`]) until the follower has applied the channel up to its current end, which
/// holds every item record acknowledged before the event was; an item still unknown then is
/// remembered as such (a later record of it replaces that).
pub struct FollowedCategories {
    categories: Arc<RwLock<HashMap<ItemId, Option<String>>>>,
    /// Where the channel does not name an item (read once at start, from a data dir).
    fallback: Option<Arc<dyn CategoryLookup>>,
    /// A view of the channel for its end, and how far the follower applied it.
    end_view: Mutex<Box<dyn BusPartition>>,
    applied: Arc<AtomicU64>,
}

impl FollowedCategories {
    /// Follows `bus`'s catalog channel into a category map; `fallback` answers for items the
    /// channel never named.
    pub fn follow(
        bus: &dyn EventBus,
        fallback: Option<Arc<dyn CategoryLookup>>,
    ) -> anyhow::Result<(Arc<Self>, CatalogFollower)> {
        let categories: Arc<RwLock<HashMap<ItemId, Option<String>>>> = Arc::default();
        let target = categories.clone();
        let follower = CatalogFollower::start(bus, move |records| {
            let mut categories = target.write().unwrap_or_else(|p| p.into_inner());
            for record in records {
                if let Record::Item { item, .. } = record {
                    categories.insert(item.id.clone(), item.category.clone());
                }
            }
            Ok(())
        })?;
        let map = Arc::new(Self {
            categories,
            fallback,
            end_view: Mutex::new(bus.catalog_reader()?),
            applied: follower.applied_handle(),
        });
        Ok((map, follower))
    }
}

impl FollowedCategories {
    fn known(&self, item: &ItemId) -> Option<Option<String>> {
        self.categories
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(item)
            .cloned()
    }

    /// Waits (up to [`SYNC_WAIT`]) until the follower has applied the channel to its end.
    fn sync(&self) {
        let end = self
            .end_view
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .end_offset();
        let deadline = Instant::now() + SYNC_WAIT;
        while self.applied.load(Ordering::Acquire) < end && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl CategoryLookup for FollowedCategories {
    fn category(&self, item: &ItemId) -> Option<String> {
        if let Some(known) = self.known(item) {
            return known;
        }
        if let Some(category) = self.fallback.as_ref().and_then(|f| f.category(item)) {
            return Some(category);
        }
        self.sync();
        let mut categories = self.categories.write().unwrap_or_else(|p| p.into_inner());
        categories.entry(item.clone()).or_insert(None).clone()
    }

    /// The channel changes categories behind the updater's back.
    fn cacheable(&self) -> bool {
        false
    }
}
