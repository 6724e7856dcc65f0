//! What the engine can fail with, by who is to blame: the request (an unknown category or
//! item), the deployment (no model yet), a dependency (the feature store) or the engine
//! itself (a computation that panicked). The HTTP edge maps each to a status in one place.

use recd_features::FeatureError;

/// An engine failure.
#[derive(Debug, thiserror::Error)]
pub enum OnlineError {
    /// The request names a category the served model does not know.
    #[error("unknown category {0:?} (not in the model's catalog)")]
    UnknownCategory(String),
    /// Neither the served model nor the catalog knows the item.
    #[error("item {0:?} is unknown to the model and the catalog")]
    UnknownItem(String),
    /// No model is loaded, and the answer needs one.
    #[error("no model is loaded yet; run `recd train`")]
    NoModel,
    /// The feature store failed where no answer can be made without it.
    #[error(transparent)]
    Features(#[from] FeatureError),
    /// A computation panicked (its thread survives; the request fails).
    #[error("the {0} computation failed")]
    Failed(&'static str),
}
