//! `GET`, `PUT` and `DELETE /v1/items/{id}`, and `GET /v1/items` (the catalog, a page at a time).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An item as clients send it. The id comes from the path; a body `id`, if present, must match.
/// A PUT replaces the whole item. Texts are at most 1024 bytes without control characters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemIn {
    /// Must equal the path's id when present.
    #[schema(min_length = 1, max_length = 256)]
    pub id: Option<String>,
    /// Display title (required).
    #[schema(value_type = String, required = true, max_length = 1024)]
    pub title: Option<String>,
    /// Main category (not blank; leave it out instead).
    #[schema(min_length = 1, max_length = 1024)]
    pub category: Option<String>,
    /// Free tags, at most 64.
    #[serde(default)]
    #[schema(max_items = 64)]
    pub tags: Vec<String>,
    /// Price in the catalog's currency, not negative.
    #[schema(minimum = 0)]
    pub price: Option<f64>,
    /// When the item entered the catalog, ms since the epoch (years 1000 to 3000).
    #[schema(minimum = -30_610_224_000_000_i64, maximum = 32_503_680_000_000_i64)]
    pub created_at: Option<i64>,
    /// False when the item must not be recommended; true if absent.
    pub available: Option<bool>,
    /// Sponsored items may be boosted by business rules; false if absent.
    pub sponsored: Option<bool>,
    /// Free string attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// An item as the server reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ItemOut {
    /// External id.
    pub id: String,
    /// Display title.
    pub title: String,
    /// Main category.
    pub category: Option<String>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Price.
    pub price: Option<f64>,
    /// When the item entered the catalog, ms since the epoch.
    pub created_at: Option<i64>,
    /// False when the item must not be recommended.
    pub available: bool,
    /// Sponsored flag.
    pub sponsored: bool,
    /// Free string attributes.
    pub attributes: BTreeMap<String, String>,
}

/// `GET /v1/items?offset=&limit=`: one page of the catalog.
///
/// Items come in ascending byte order of their ids, the order the catalog keeps them in, so
/// pages are stable while the catalog does not change; an item added or removed between two
/// requests shifts the later offsets by one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ItemsPage {
    /// The page, in ascending id order.
    pub items: Vec<ItemOut>,
    /// Position of the page's first item in the whole catalog (the request's `offset`).
    pub offset: u64,
    /// Number of items in the catalog when the page was read.
    pub total: u64,
    /// The `offset` that asks for the next page; `null` on the last page.
    pub next_offset: Option<u64>,
}
