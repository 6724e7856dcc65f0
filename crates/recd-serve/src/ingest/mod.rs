//! Ingest policies applied to a batch of events before it is appended: what to do with events
//! about items the catalog does not have (`[serve] unknown_items`).

pub mod bots;

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use recd_store::Store;
use recd_types::Event;
use serde::{Deserialize, Serialize};

use crate::ApiError;

/// What an event about an item missing from the catalog gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownItems {
    /// Accepted, counted in `recd_events_unknown_item_total` and logged once per item (items
    /// often reach the event stream before the catalog feed).
    #[default]
    Accept,
    /// Refused with a 400 naming the event and `item_id`; nothing of the batch is written.
    Reject,
}

/// Most item ids remembered as already logged; past it the memory starts again (an item may
/// then be logged a second time, never more often than that per this many others).
const LOGGED_CAP: usize = 100_000;

/// Applies `policy` to `events`.
pub(crate) fn check_items(
    store: &Store,
    events: &[Event],
    policy: UnknownItems,
) -> Result<(), ApiError> {
    let ids: Vec<&str> = events
        .iter()
        .filter_map(|e| e.item_id.as_ref().map(|i| i.as_str()))
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let missing = store.catalog().missing_items(&ids)?;
    if missing.is_empty() {
        return Ok(());
    }
    if policy == UnknownItems::Reject {
        let id = ids[missing[0]];
        let index = events
            .iter()
            .position(|e| e.item_id.as_ref().is_some_and(|i| i.as_str() == id));
        return Err(ApiError::InvalidField {
            index,
            field: "item_id".into(),
            message: format!(
                "item {id:?} is not in the catalog (PUT /v1/items/{{id}} first; [serve] unknown_items = \"reject\")"
            ),
        });
    }
    metrics::counter!("recd_events_unknown_item_total").increment(missing.len() as u64);
    static LOGGED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let mut logged = LOGGED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    for &i in &missing {
        if logged.len() >= LOGGED_CAP {
            logged.clear();
        }
        if logged.insert(ids[i].to_string()) {
            tracing::warn!(
                item_id = ids[i],
                "an event names an item that is not in the catalog; accepted ([serve] unknown_items)"
            );
        }
    }
    Ok(())
}
