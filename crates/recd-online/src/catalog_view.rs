//! [`CatalogView`]: the live catalog as the recommendation path needs it, indexed by model row.
//!
//! The model knows availability as of training; items deleted since (and sponsored flags set
//! since) live only in the catalog. Reading the catalog (redb) per candidate would cost a few
//! microseconds × a thousand candidates per request, so the model watcher rebuilds this view
//! in the background every `catalog_refresh_ms` instead: a deleted item leaves the lists within
//! that delay. A view still current (same model, no item written since its scan) is kept: the
//! scan reads the whole catalog, and repeating it every 5 s on an unchanged catalog
//! stalled one of two cores and showed in the serving benchmark's tail latency. Items added
//! after training have no model row; they are kept here with their content vector so they get
//! content neighbours and new-arrival slots before the next training.

use recd_model::{Model, NO_CATEGORY};
use recd_store::StoreError;

use crate::catalog::CatalogSource;
use crate::postprocess::Live;
use crate::search::{self, SearchIndex};

/// An item that is in the catalog but not in the served model.
#[derive(Debug, Clone)]
pub struct NewItem {
    /// External id.
    pub id: String,
    /// Category index in the model's category list, or [`NO_CATEGORY`].
    pub category: u32,
    /// Creation time, ms, if known.
    pub created_ms: Option<i64>,
    /// Unit content vector (the model's encoder).
    pub content: Vec<f32>,
}

/// Availability and business flags per model row, plus the items the model does not know.
#[derive(Debug, Clone, Default)]
pub struct CatalogView {
    /// The model version whose rows index the vectors below.
    pub model_version: String,
    /// [`CatalogSource::items_generation`] when the scan started: the view is current
    /// while the catalog still reports it.
    pub catalog_generation: u64,
    /// Per row: whether the item may be recommended now (catalog's `available`; as the
    /// model saw it at training time when the catalog does not know the item), its sponsored
    /// flag and its creation time as the catalog says now (`i64::MIN` if unknown). One
    /// array, so a candidate's live state is one cache line.
    pub rows: Vec<Live>,
    /// Display title per row (empty when the catalog does not know the item); reasons
    /// ("because you watched X") name items by title.
    pub titles: Vec<String>,
    /// Available catalog items without a model row, newest first.
    pub new_items: Vec<NewItem>,
    /// The model rows' titles, tags and categories by word (the user's searches become
    /// candidates through it).
    pub search: SearchIndex,
}

impl CatalogView {
    /// Scans the catalog once.
    pub fn build(model: &Model, catalog: &dyn CatalogSource) -> Result<Self, StoreError> {
        let n = model.n_items();
        let mut view = CatalogView {
            model_version: model.version.clone(),
            catalog_generation: catalog.items_generation(),
            rows: Self::trained_rows(model),
            titles: vec![String::new(); n],
            new_items: Vec::new(),
            search: SearchIndex::default(),
        };
        catalog.for_each_item(&mut |item| {
            let created = item.created_at_ms;
            match model.items.get(item.id.as_str()) {
                Some(row) => {
                    let row = row as usize;
                    view.rows[row] = Live {
                        created_ms: created.unwrap_or(i64::MIN),
                        available: item.available,
                        sponsored: item.sponsored,
                    };
                    if item.available {
                        view.search.add(row as u32, search::item_texts(&item));
                    }
                    view.titles[row] = item.title;
                }
                None if item.available => view.new_items.push(NewItem {
                    content: model.encoder.encode(&item),
                    id: item.id.to_string(),
                    category: item
                        .category
                        .as_deref()
                        .and_then(|c| model.meta.categories.iter().position(|x| x == c))
                        .map_or(NO_CATEGORY, |c| c as u32),
                    created_ms: created,
                }),
                None => {}
            }
        })?;
        view.new_items
            .sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(a.id.cmp(&b.id)));
        Ok(view)
    }

    /// Every row's live state as the model saw it at training time (never sponsored).
    pub fn trained_rows(model: &Model) -> Vec<Live> {
        (0..model.n_items())
            .map(|i| Live {
                created_ms: model.meta.created_ms[i],
                available: model.meta.available[i],
                sponsored: false,
            })
            .collect()
    }

    /// Whether row `item` may be shown.
    pub fn is_available(&self, item: u32) -> bool {
        self.rows.get(item as usize).is_some_and(|r| r.available)
    }
}
