//! Reading request bodies: one JSON object, a JSON array of them, or NDJSON, with errors that
//! name the entry and the field.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ApiError;

/// Splits a body into JSON values: an array's elements, or the whitespace-separated values of
/// NDJSON (one object is the one-line case).
pub(crate) fn values(bytes: &[u8]) -> Result<Vec<Value>, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => Err(ApiError::EmptyBody),
        Some(b'[') => {
            serde_json::from_slice::<Vec<Value>>(bytes).map_err(|e| ApiError::InvalidJson {
                index: None,
                message: format!("invalid JSON array: {e}"),
            })
        }
        Some(_) => {
            let mut out = Vec::new();
            for value in serde_json::Deserializer::from_slice(bytes).into_iter::<Value>() {
                let value = value.map_err(|e| ApiError::InvalidJson {
                    index: Some(out.len()),
                    message: format!("invalid JSON in entry {}: {e}", out.len()),
                })?;
                out.push(value);
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
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ApiError::InvalidJson {
        index: None,
        message: format!("invalid JSON: {e}"),
    })?;
    typed(value, None)
}

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
