//! [`ApiError`]: every way a request can fail, and its one mapping to a status and JSON body.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use recd_api::{ErrorBody, ErrorDetail};

/// A failed request. Variants are split by who is to blame: the caller (4xx) or us (5xx).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON (or not NDJSON): the caller's fault.
    #[error("{message}")]
    InvalidJson {
        /// Entry of a batch where parsing failed, if it got that far.
        index: Option<usize>,
        /// Parser message with line and column.
        message: String,
    },
    /// A value breaks a rule (missing, wrong type, unknown field, out of range): the caller's.
    #[error("{message}")]
    InvalidField {
        /// Entry of a batch, for batch requests.
        index: Option<usize>,
        /// The field as spelled in the request (`user_id`, `context.device`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The path or query string cannot be read at all (bad percent-encoding, not UTF-8), so no
    /// field can be named: the caller's fault.
    #[error("{message}")]
    InvalidRequest {
        /// What could not be read.
        message: String,
    },
    /// The body's media type or content coding is not one this API reads: the caller's.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body has nothing in it: the caller's fault.
    #[error("the request body is empty")]
    EmptyBody,
    /// The body is larger than `max_body_bytes`: the caller's fault (send smaller batches).
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// More events than `max_events_per_request`: the caller's fault.
    #[error("{count} events in one request; the limit is {limit}")]
    TooManyEvents {
        /// Events sent.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The body did not arrive within `body_timeout_ms`: the caller's (or its network's).
    #[error("the request body did not arrive within {timeout_ms} ms")]
    BodyTimeout {
        /// The limit.
        timeout_ms: u64,
    },
    /// The resource does not exist: the caller asked for something unknown.
    #[error("{what} {id:?} not found")]
    NotFound {
        /// `user`, `item`, ...
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// No route has this path: the caller's (a typo in the URL; distinct from `NotFound`, an
    /// unknown id on a real route).
    #[error("no route {path:?}; see /openapi.json for the routes")]
    NoSuchRoute {
        /// The path asked for.
        path: String,
    },
    /// The path exists but not with this method: the caller's. The response carries `Allow`.
    #[error("method {method} is not allowed on {path:?}")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The path asked for.
        path: String,
    },
    /// The route needs an API key and none (or an unknown or revoked one) was sent: the
    /// caller's. The response carries `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller went over a rate limit: the caller's, to retry after `retry_after_secs`
    /// (sent as `Retry-After`).
    #[error("too many requests (the {limit} rate limit); retry after {retry_after_secs} s")]
    RateLimited {
        /// Which limit: a scope (`read`, `ingest`, `admin`) or `address`.
        limit: &'static str,
        /// Seconds until a request would be allowed.
        retry_after_secs: u64,
    },
    /// This caller may not use the route (its key lacks the scope; or, without keys, an admin
    /// route called from off loopback): the caller's.
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the state of the resource (a training job already runs):
    /// the caller's, to retry later.
    #[error("{0}")]
    Conflict(String),
    /// The write could not be made durable (the log refuses appends after a failed sync, or
    /// the disk failed): ours, and never answered with a 202. The client should retry later,
    /// or against another replica; nothing of the request was acknowledged.
    #[error("the write could not be made durable: {0}")]
    NotDurable(String),
    /// A dependency is unreachable (the feature store's Redis): ours, and transient.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// Storage failed (disk full, log closed): ours; the operator must act. Details are
    /// logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The status and stable machine code. One exhaustive match: a new variant must choose.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidJson { .. } => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::InvalidField { .. } => (StatusCode::BAD_REQUEST, "invalid_field"),
            ApiError::InvalidRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::EmptyBody => (StatusCode::BAD_REQUEST, "empty_body"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::TooManyEvents { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_many_events"),
            ApiError::BodyTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::NoSuchRoute { .. } => (StatusCode::NOT_FOUND, "no_such_route"),
            ApiError::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
            }
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::NotDurable(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_durable"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// A field error from the domain's validation error.
    pub fn field(index: Option<usize>, e: recd_types::ValidationError) -> Self {
        ApiError::InvalidField {
            index,
            field: e.field.to_string(),
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let (field, index) = match &self {
            ApiError::InvalidField { index, field, .. } => (Some(field.clone()), *index),
            ApiError::InvalidJson { index, .. } => (None, *index),
            _ => (None, None),
        };
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                "internal error; see the server log".to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message,
                field,
                index,
            },
        };
        let retry_after = match &self {
            ApiError::RateLimited {
                retry_after_secs, ..
            } => Some(HeaderValue::from(*retry_after_secs)),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                Some(HeaderValue::from_static(RETRY_AFTER_SECS))
            }
            _ => None,
        };
        let unauthorized = matches!(self, ApiError::Unauthorized(_));
        let mut response = (status, Json(body)).into_response();
        if let Some(value) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"recd\""),
            );
        }
        response
    }
}

/// `Retry-After` of every 503: long enough for a load balancer to route elsewhere or a
/// dependency to come back, short enough not to stall a client.
const RETRY_AFTER_SECS: &str = "1";

impl From<recd_store::AppendError> for ApiError {
    fn from(e: recd_store::AppendError) -> Self {
        match e {
            recd_store::AppendError::Invalid { index, source } => {
                ApiError::field(Some(index), source)
            }
            // Nothing was acknowledged: the client may retry (DECISIONS §1: never a 202
            // without durability, a 503 with Retry-After instead).
            recd_store::AppendError::Store(
                e @ (recd_store::StoreError::Closed(_) | recd_store::StoreError::Io { .. }),
            ) => {
                tracing::error!(error = %e, "append failed; answering 503");
                ApiError::NotDurable(e.to_string())
            }
            recd_store::AppendError::Store(e) => e.into(),
        }
    }
}

impl From<recd_bus::BusError> for ApiError {
    fn from(e: recd_bus::BusError) -> Self {
        match e {
            recd_bus::BusError::Invalid(v) => ApiError::field(None, v),
            // Nothing was acknowledged (DECISIONS §1): 503 with Retry-After, never a 202.
            e @ (recd_bus::BusError::Unavailable(_)
            | recd_bus::BusError::Closed
            | recd_bus::BusError::Config(_)) => {
                tracing::error!(error = %e, "append to the event bus failed; answering 503");
                ApiError::NotDurable(e.to_string())
            }
        }
    }
}

impl From<recd_store::StoreError> for ApiError {
    fn from(e: recd_store::StoreError) -> Self {
        match e {
            recd_store::StoreError::Invalid(v) => ApiError::field(None, v),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<recd_store::retention::CompactError> for ApiError {
    fn from(e: recd_store::retention::CompactError) -> Self {
        use recd_store::retention::CompactError as E;
        match e {
            E::Invalid { field, message } => ApiError::InvalidField {
                index: None,
                field: field.into(),
                message,
            },
            E::NoSuchLog(log) => ApiError::NotFound {
                what: "log",
                id: log.into(),
            },
            E::Store(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<recd_features::FeatureError> for ApiError {
    fn from(e: recd_features::FeatureError) -> Self {
        match e {
            recd_features::FeatureError::Unavailable(m) => ApiError::Unavailable(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// The engine's failures, by who is to blame: the request's (unknown category or item), the
/// deployment's (no model yet), a dependency's (the feature store) or ours.
impl From<recd_online::OnlineError> for ApiError {
    fn from(e: recd_online::OnlineError) -> Self {
        use recd_online::OnlineError as E;
        match e {
            E::UnknownCategory(_) => ApiError::InvalidField {
                index: None,
                field: "category".into(),
                message: e.to_string(),
            },
            E::UnknownItem(id) => ApiError::NotFound { what: "item", id },
            E::NoModel => ApiError::Unavailable(e.to_string()),
            E::Features(f) => f.into(),
            E::Failed(_) => ApiError::Internal(e.to_string()),
        }
    }
}

/// A refused experiment is the caller's (the field named relative to the body: the
/// `experiments.<name>.` prefix of the config file's path is dropped); a storage failure ours.
impl From<recd_online::experiments::admin::AdminError> for ApiError {
    fn from(e: recd_online::experiments::admin::AdminError) -> Self {
        use recd_online::experiments::admin::AdminError as E;
        match e {
            E::Invalid(e) => {
                let field = match e.field.strip_prefix("experiments.") {
                    Some(rest) => rest
                        .split_once('.')
                        .map_or("name".to_string(), |(_, f)| f.to_string()),
                    None => e.field.clone(),
                };
                ApiError::InvalidField {
                    index: None,
                    field,
                    message: e.message,
                }
            }
            E::Storage { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_that_cannot_be_made_durable_is_a_503_with_retry_after() {
        let closed = recd_store::StoreError::Closed("fsync failed".into());
        let response = ApiError::from(recd_store::AppendError::Store(closed)).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], RETRY_AFTER_SECS);
        let response = ApiError::Unavailable("redis".into()).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], RETRY_AFTER_SECS);
        let response = ApiError::EmptyBody.into_response();
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
        let response = ApiError::RateLimited {
            limit: "read",
            retry_after_secs: 3,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
        let response = ApiError::Unauthorized("no key".into()).into_response();
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
