//! Where the updater learns an item's category (for session context and per-category trending).

use recd_store::Store;
use recd_types::ItemId;

/// Looks up the current category of an item. Called from a blocking thread, at most once per
/// item per updater run: the updater caches answers and follows catalog changes in the log.
pub trait CategoryLookup: Send + Sync {
    /// The item's category, if the item is known and has one.
    fn category(&self, item: &ItemId) -> Option<String>;

    /// Whether an answer may be remembered until the log itself says otherwise (true where
    /// the log being applied carries the catalog's changes; false where they arrive some
    /// other way, as from a bus's catalog channel, and the lookup is cheap to ask again).
    fn cacheable(&self) -> bool {
        true
    }
}

/// Categories from a store's catalog.
pub struct CatalogCategories(pub std::sync::Arc<Store>);

impl CategoryLookup for CatalogCategories {
    fn category(&self, item: &ItemId) -> Option<String> {
        match self.0.catalog().get_item(item.as_str()) {
            Ok(found) => found.and_then(|i| i.category),
            Err(e) => {
                // A category is a nice-to-have for features; the event still counts without it.
                tracing::warn!(item = %item, error = %e, "catalog lookup failed; no category");
                None
            }
        }
    }
}

/// No categories (tests, or a catalog-less deployment).
impl CategoryLookup for () {
    fn category(&self, _item: &ItemId) -> Option<String> {
        None
    }
}
