//! Errors of the generator: only the caller's settings can be wrong.

/// Why a generator could not be built. Every variant is the caller's fault (bad settings or a
/// badly written date); generation itself cannot fail once the settings pass.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenError {
    /// A setting is out of its range; `field` is the setting's CLI flag name without dashes.
    #[error("`{field}`: {reason}")]
    InvalidConfig {
        /// The setting, spelled like its flag (`users`, `items`, `events`, ...).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A date was not `YYYY-MM-DD` or does not exist.
    #[error("invalid date {input:?}: {reason} (expected YYYY-MM-DD)")]
    InvalidDate {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl GenError {
    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        GenError::InvalidConfig {
            field,
            reason: reason.into(),
        }
    }
}
