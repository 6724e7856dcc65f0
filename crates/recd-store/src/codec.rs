//! The encoding of one [`Record`], for logs that are not files: a bus message carries the
//! record schema it was written under and the record's bytes, and is decoded by the same
//! decoder per schema as the file log's frames (one record-versioning mechanism).

use recd_types::{Record, ValidationError};

use crate::StoreError;

/// The record schema this build writes (a field of every segment header and bus message).
pub const RECORD_SCHEMA: u32 = crate::log::file_frame::RECORD_SCHEMA;

/// The largest encoded record accepted, in bytes (the file log's frame limit).
pub const MAX_RECORD_BYTES: usize = crate::log::file_frame::MAX_PAYLOAD_LEN as usize;

/// Encodes `record` under [`RECORD_SCHEMA`]; a record over [`MAX_RECORD_BYTES`] is refused.
pub fn encode_record(record: &Record) -> Result<Vec<u8>, StoreError> {
    let bytes = postcard::to_stdvec(record).map_err(|e| {
        StoreError::Invalid(ValidationError::new(
            "record",
            format!("cannot encode: {e}"),
        ))
    })?;
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(StoreError::Invalid(ValidationError::new(
            "record",
            format!(
                "encodes to {} bytes, over the limit of {MAX_RECORD_BYTES}",
                bytes.len()
            ),
        )));
    }
    Ok(bytes)
}

/// Decodes bytes written under record `schema` (any schema this build knows); the error says
/// what is wrong, for a log line naming where the bytes were.
pub fn decode_record(schema: u32, bytes: &[u8]) -> Result<Record, String> {
    crate::log::file_frame::decode_record(schema, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use recd_types::{Event, EventKind, ItemId, UserId};

    #[test]
    fn a_record_round_trips_and_garbage_is_refused() {
        let record = Record::Event(Event::new(
            UserId::parse("u1").unwrap(),
            Some(ItemId::parse("i1").unwrap()),
            EventKind::Click,
            1_700_000_000_000,
        ));
        let bytes = encode_record(&record).unwrap();
        assert_eq!(decode_record(RECORD_SCHEMA, &bytes).unwrap(), record);
        assert!(decode_record(RECORD_SCHEMA + 1, &bytes).is_err());
        let mut longer = bytes.clone();
        longer.push(7);
        assert!(decode_record(RECORD_SCHEMA, &longer).is_err());
        assert!(decode_record(RECORD_SCHEMA, &[0xff, 0xff, 0xff]).is_err());
    }
}
