//! Catalog items.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::check_text;
use crate::{ItemId, TimestampMs, ValidationError};

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
        if self.created_at_ms.is_some_and(|t| t < 0) {
            return Err(ValidationError::new("created_at", "is before 1970"));
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
        item.category = Some(" ".into());
        assert_eq!(item.validate().unwrap_err().field, "category");
    }
}
