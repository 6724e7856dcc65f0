//! Errors of the bus, by who is to blame.

/// What can go wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The configuration or URL is wrong: the operator's to fix.
    #[error("bus configuration: {0}")]
    Config(String),
    /// A record cannot be carried (too large, not encodable): the caller's fault.
    #[error(transparent)]
    Invalid(#[from] recd_types::ValidationError),
    /// The bus did not make the records durable (unreachable, refused, or too few replicas
    /// acknowledged in time). Nothing may be acknowledged; the caller may retry.
    #[error("the event bus is unavailable: {0}")]
    Unavailable(String),
    /// The bus's writer has stopped (the process is shutting down).
    #[error("the event bus writer has stopped")]
    Closed,
}

impl From<BusError> for recd_store::StoreError {
    fn from(e: BusError) -> Self {
        match e {
            BusError::Invalid(v) => recd_store::StoreError::Invalid(v),
            other => recd_store::StoreError::Closed(other.to_string()),
        }
    }
}
