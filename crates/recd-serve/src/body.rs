//! Reading request bodies: one JSON object, a JSON array of them, or NDJSON, with errors that
//! name the entry and the field.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ApiError;

/// How a request body is read before its handler runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyReading {
    /// Larger bodies get 413 (`[serve] max_body_bytes`).
    pub max_bytes: usize,
    /// The whole body must arrive within this long, else 408 (`[serve] body_timeout_ms`).
    pub timeout: std::time::Duration,
}

/// Middleware: reads the whole body within the time limit, so a client that trickles its
/// body cannot hold a connection and a handler for long; the handler then gets it in memory.
pub(crate) async fn read_within(
    State(reading): State<BodyReading>,
    request: Request,
    next: Next,
) -> Response {
    // Most requests (every GET) have no body: no timer and no copy on their path.
    let hint = axum::body::HttpBody::size_hint(request.body());
    if hint.exact() == Some(0) {
        return next.run(request).await;
    }
    let writes = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    );
    if writes && let Err(e) = acceptable(request.headers()) {
        return e.into_response();
    }
    // A declared length over the limit is refused before any byte is read, so a client that
    // sent `Expect: 100-continue` never gets its 100 and never sends the body.
    if hint.lower() > reading.max_bytes as u64 {
        return ApiError::PayloadTooLarge {
            limit: reading.max_bytes,
        }
        .into_response();
    }
    let (parts, body) = request.into_parts();
    let read = axum::body::to_bytes(body, reading.max_bytes);
    match tokio::time::timeout(reading.timeout, read).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(e)) if is_length_limit(&e) => ApiError::PayloadTooLarge {
            limit: reading.max_bytes,
        }
        .into_response(),
        Ok(Err(e)) => ApiError::InvalidJson {
            index: None,
            message: format!("could not read the body: {e}"),
        }
        .into_response(),
        Err(_) => ApiError::BodyTimeout {
            timeout_ms: reading.timeout.as_millis() as u64,
        }
        .into_response(),
    }
}

/// Media types a body may have: JSON, or NDJSON for event batches. A body without
/// `Content-Type` is read as JSON.
const MEDIA_TYPES: [&str; 3] = [
    "application/json",
    "application/x-ndjson",
    "application/ndjson",
];

/// Refuses bodies this API cannot read as sent: another media type, or any content coding
/// (a gzip body must never be parsed as if it were plain JSON).
fn acceptable(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
    for coding in headers.get_all(CONTENT_ENCODING) {
        let coding = coding.to_str().unwrap_or("?").trim();
        if !coding.eq_ignore_ascii_case("identity") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Content-Encoding {coding:?} is not supported; send the body uncompressed"
            )));
        }
    }
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let media = value
        .to_str()
        .unwrap_or("?")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if MEDIA_TYPES.contains(&media.as_str()) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {media:?} is not accepted; send application/json (or application/x-ndjson for event batches)"
        )))
    }
}

/// Whether reading failed because the body passed the limit.
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Splits a body into JSON values: an array's elements, or the whitespace-separated values of
/// NDJSON (one object is the one-line case).
pub(crate) fn values(bytes: &[u8]) -> Result<Vec<Value>, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => Err(ApiError::EmptyBody),
        Some(b'[') => serde_json::from_slice::<Vec<Strict>>(bytes)
            .map(|values| values.into_iter().map(|v| v.0).collect())
            .map_err(|e| ApiError::InvalidJson {
                index: None,
                message: format!("invalid JSON array: {e}"),
            }),
        Some(_) => {
            let mut out = Vec::new();
            for value in serde_json::Deserializer::from_slice(bytes).into_iter::<Strict>() {
                let value = value.map_err(|e| ApiError::InvalidJson {
                    index: Some(out.len()),
                    message: format!("invalid JSON in entry {}: {e}", out.len()),
                })?;
                out.push(value.0);
            }
            Ok(out)
        }
    }
}

/// Deserializes one object, naming the field at fault: the path for a wrong type, the name
/// for an unknown field.
pub(crate) fn typed<T: DeserializeOwned>(
    value: Value,
    index: Option<usize>,
) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::InvalidField {
            index,
            field: String::new(),
            message: "expected a JSON object".into(),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let field = if path == "." || path.is_empty() {
            // Unknown and missing fields are reported on the object: take the name from
            // serde's message ("unknown field `x`, expected ...").
            message.split('`').nth(1).unwrap_or_default().to_string()
        } else {
            path
        };
        ApiError::InvalidField {
            index,
            field,
            message,
        }
    })
}

/// Parses a single-object body (items, users).
pub(crate) fn object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::EmptyBody);
    }
    let value: Strict = serde_json::from_slice(bytes).map_err(|e| ApiError::InvalidJson {
        index: None,
        message: format!("invalid JSON: {e}"),
    })?;
    typed(value.0, None)
}

/// A JSON value whose objects have no repeated key. `serde_json::Value` keeps the last of two
/// values for one key, so `{"user_id":"a","user_id":"b"}` would be read as user b without a
/// word; this refuses it, naming the key.
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if out.insert(key.clone(), value).is_some() {
                return Err(serde::de::Error::custom(format!(
                    "the key {key:?} appears twice in one object"
                )));
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use recd_api::EventIn;

    use super::*;

    fn field_of(body: &str) -> (Option<usize>, String) {
        let values = values(body.as_bytes()).unwrap();
        let err = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| typed::<EventIn>(v, Some(i)))
            .find_map(Result::err)
            .unwrap();
        match err {
            ApiError::InvalidField { index, field, .. } => (index, field),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn objects_arrays_and_ndjson_split_alike() {
        assert_eq!(values(br#"{"a":1}"#).unwrap().len(), 1);
        assert_eq!(values(b" [{\"a\":1},{\"a\":2}]").unwrap().len(), 2);
        assert_eq!(
            values(b"{\"a\":1}\n{\"a\":2}\n\n{\"a\":3}\n")
                .unwrap()
                .len(),
            3
        );
        assert!(matches!(values(b"  \n"), Err(ApiError::EmptyBody)));
        assert!(matches!(
            values(b"{\"a\":1}\n{\"a\":"),
            Err(ApiError::InvalidJson { index: Some(1), .. })
        ));
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            field_of(r#"[{"user_id":"u"},{"user_id":5}]"#),
            (Some(1), "user_id".into())
        );
        assert_eq!(field_of(r#"{"usr":"u"}"#), (Some(0), "usr".into()));
        assert_eq!(
            field_of(r#"{"context":{"device":1}}"#),
            (Some(0), "context.device".into())
        );
        assert_eq!(field_of(r#"[1]"#), (Some(0), "".into()));
    }
}
