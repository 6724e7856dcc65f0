//! What an answer showed: the impression that clicks and purchases are attributed to.
//!
//! The online engine writes one per answer (recommendations and similar items) to a log of
//! its own, beside the event log: they are many (one per request, a few hundred bytes each),
//! training does not read them unless it asks, and they may be dropped under overload while
//! an event never is. Events that carry the answer's `request_id` join to it.

use serde::{Deserialize, Serialize};

use crate::{ItemId, TimestampMs, UserId, ValidationError};

/// Most items one impression records (the serving limit on a list is lower).
pub const MAX_SHOWN: usize = 1000;

/// Which endpoint made the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    /// A user's recommendations.
    Recommendations,
    /// Items similar to one item.
    Similar,
}

/// One item as it was shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    /// The item.
    pub item_id: ItemId,
    /// 0-based position in the whole ranked list (a second page starts at its offset).
    pub position: u32,
    /// The candidate source that proposed it (`als`, `popular`, `search`, ...).
    pub source: String,
    /// The score it was ranked by.
    pub score: f32,
}

/// One answer as it was shown (record schema 3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Impression {
    /// The answer's request id, which events cite for attribution.
    pub request_id: String,
    /// When the answer was made.
    pub at_ms: TimestampMs,
    /// Which endpoint made it.
    pub surface: Surface,
    /// For whom (absent for similar items asked without a user).
    pub user_id: Option<UserId>,
    /// The item of a similar-items answer.
    pub item_id: Option<ItemId>,
    /// Every experiment variant the user was in, `"<experiment>/<variant>"`, first layer first.
    pub experiments: Vec<String>,
    /// The model that answered (`None` before the first training).
    pub model_version: Option<String>,
    /// The placement (`homepage`, `item_page`, ...).
    pub context: Option<String>,
    /// The client's device class, if sent.
    pub device: Option<String>,
    /// The category the list was restricted to, if any.
    pub category: Option<String>,
    /// The items shown, in order.
    pub items: Vec<Shown>,
    /// The user had nothing personal to go on (the cold-start blend answered).
    pub cold: bool,
    /// The precomputed fallback list answered (deadline, or no model).
    pub fallback: bool,
    /// The light ranker answered (the compute threads were behind).
    pub degraded: bool,
    /// The answer was a cached list, shown again under this request id.
    pub cached: bool,
    /// Time to answer in microseconds, as the engine measured it.
    pub latency_us: u32,
}

impl Impression {
    /// Checks what a reader relies on: a request id, and a list of bounded length.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.request_id.is_empty() || self.request_id.len() > 128 {
            return Err(ValidationError::new("request_id", "must be 1 to 128 bytes"));
        }
        if self.items.len() > MAX_SHOWN {
            return Err(ValidationError::new(
                "items",
                format!("{} items, at most {MAX_SHOWN}", self.items.len()),
            ));
        }
        if let Some(u) = &self.user_id {
            u.validate()?;
        }
        for shown in &self.items {
            shown.item_id.validate()?;
        }
        Ok(())
    }
}
