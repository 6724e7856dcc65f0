//! Errors of the model library.

/// What can go wrong when building or using a model. Every variant is the caller's fault
/// (bad shapes or values passed in); nothing here touches the disk or the network.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// Two pieces that must agree on a dimension do not (e.g. a Gram matrix of 32 factors used
    /// with 64-factor item vectors): a programming or artifact mix-up by the caller.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// An interaction names an item the model does not have: the caller passed an index
    /// outside `0..n_items`.
    #[error("item index {index} is out of range (the model has {n_items} items)")]
    ItemOutOfRange {
        /// The index given.
        index: u32,
        /// How many items the model has.
        n_items: usize,
    },
    /// A number is NaN or infinite, or a parameter is outside its domain: the caller's input.
    #[error("field `{field}`: {reason}")]
    InvalidValue {
        /// The parameter or input field, as callers spell it.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A model file is missing, unreadable, or not what its manifest says: the artifact is
    /// damaged or from another format version; the operator must act (retrain or roll back).
    #[error("model artifact: {0}")]
    Artifact(String),
    /// A registry change the registry's state does not allow (promote with no candidate,
    /// roll back with no earlier version): the operator asked for it, nothing is damaged.
    #[error("model registry: {0}")]
    Registry(String),
}
