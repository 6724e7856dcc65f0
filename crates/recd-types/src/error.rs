//! The one error type of this crate: a value broke a rule of the domain model.

/// A value broke a validation rule. `field` names the offending field as it is spelled in the
/// input formats (`user_id`, `rating`, `context.device`, ...), so callers can report it as is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("field `{field}`: {reason}")]
pub struct ValidationError {
    /// The field name as users write it in CSV headers and JSON keys.
    pub field: &'static str,
    /// What is wrong, in words.
    pub reason: String,
}

impl ValidationError {
    /// Builds an error for `field`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}
