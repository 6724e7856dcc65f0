//! Catalog items.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::check_text;
use crate::{ItemId, TimestampMs, ValidationError};

/// 1000-01-01 and 3000-01-01 in ms since the epoch: the range of plausible creation dates.
const EARLIEST_MS: TimestampMs = -30_610_224_000_000;
const LATEST_MS: TimestampMs = 32_503_680_000_000;

/// Most tags per item: tags feed the content vectors, where a few dozen say all there is.
const MAX_TAGS: usize = 64;

/// One catalog item. Upserts replace the whole item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// External id.
    pub id: ItemId,
    /// Display title (also hashed into content vectors).
    pub title: String,
    /// Main category, used for diversity, trending per category and cold start.
    pub category: Option<String>,
    /// Free tags (genres, brands, ...).
    pub tags: Vec<String>,
    /// Price in the catalog's currency; absent for free content.
    pub price: Option<f64>,
    /// When the item entered the catalog (drives "new arrivals").
    pub created_at_ms: Option<TimestampMs>,
    /// False when the item must not be recommended (sold out, withdrawn, deleted).
    pub available: bool,
    /// Sponsored items may be boosted by business rules.
    pub sponsored: bool,
    /// Free string attributes.
    pub attributes: BTreeMap<String, String>,
}

impl Item {
    /// An available, unsponsored item with only an id and a title.
    pub fn new(id: ItemId, title: impl Into<String>) -> Self {
        Self {
            id,
            title: title.into(),
            category: None,
            tags: Vec::new(),
            price: None,
            created_at_ms: None,
            available: true,
            sponsored: false,
            attributes: BTreeMap::new(),
        }
    }

    /// Checks every rule of an item; the error names the first field that breaks one.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.id.validate()?;
        check_text("title", Some(&self.title))?;
        check_text("category", self.category.as_deref())?;
        if self
            .category
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            return Err(ValidationError::new(
                "category",
                "must not be blank; leave it out instead",
            ));
        }
        if self.tags.len() > MAX_TAGS {
            return Err(ValidationError::new(
                "tags",
                format!("more than {MAX_TAGS} tags"),
            ));
        }
        for tag in &self.tags {
            check_text("tags", Some(tag))?;
        }
        if let Some(price) = self.price
            && !(price.is_finite() && price >= 0.0)
        {
            return Err(ValidationError::new(
                "price",
                format!("{price} is not a non-negative number"),
            ));
        }
        // Catalogs hold old things (films from the 1920s, antiques), so only absurd dates are
        // refused: before year 1000 or after 3000 is a unit or parsing mistake.
        if self
            .created_at_ms
            .is_some_and(|t| !(EARLIEST_MS..=LATEST_MS).contains(&t))
        {
            return Err(ValidationError::new(
                "created_at",
                "is not between the years 1000 and 3000",
            ));
        }
        for (k, v) in &self.attributes {
            check_text("attributes", Some(k))?;
            check_text("attributes", Some(v))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_checked() {
        let mut item = Item::new(ItemId::parse("i1").unwrap(), "Toy Story (1995)");
        item.validate().unwrap();
        item.price = Some(-1.0);
        assert_eq!(item.validate().unwrap_err().field, "price");
        item.price = Some(9.99);
        item.created_at_ms = Some(-1_000_000_000_000); // 1938: old films are fine
        item.validate().unwrap();
        item.created_at_ms = Some(-40_000_000_000_000);
        assert_eq!(item.validate().unwrap_err().field, "created_at");
        item.created_at_ms = None;
        item.category = Some(" ".into());
        assert_eq!(item.validate().unwrap_err().field, "category");
    }
}
