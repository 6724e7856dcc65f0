//! External string ids of users and items.
//!
//! Callers know users and items by their own ids (database keys, SKUs, UUIDs). We keep those
//! strings at the edges and in the event log, and map them to dense [`crate::Idx`] values inside
//! (see `recd-store`'s id map), so matrices and embeddings can be plain arrays.

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Longest id we accept, in bytes. Ids are keys, not documents; a bound keeps one bad client
/// from bloating the id map and every model artifact that stores ids.
pub const MAX_ID_BYTES: usize = 256;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an id: non-empty, at most [`MAX_ID_BYTES`] bytes, no control
            /// or invisible characters, no surrounding whitespace (ids are compared byte for
            /// byte), no `/` or `\\`, and not `.` or `..` (ids end up in URLs, file names
            /// and logs, where those would be read as paths).
            pub fn parse(raw: impl Into<String>) -> Result<Self, ValidationError> {
                let raw = raw.into();
                check_id($field, &raw)?;
                Ok(Self(raw))
            }

            /// The id as the caller gave it.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Checks a value that was deserialized without going through [`Self::parse`].
            pub fn validate(&self) -> Result<(), ValidationError> {
                check_id($field, &self.0)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A user's external id.
    UserId,
    "user_id"
);
string_id!(
    /// An item's external id.
    ItemId,
    "item_id"
);

pub(crate) fn check_id(field: &'static str, raw: &str) -> Result<(), ValidationError> {
    if raw.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if raw.len() > MAX_ID_BYTES {
        return Err(ValidationError::new(
            field,
            format!("longer than {MAX_ID_BYTES} bytes"),
        ));
    }
    if raw.trim() != raw {
        return Err(ValidationError::new(
            field,
            "has leading or trailing whitespace",
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(ValidationError::new(field, "contains a control character"));
    }
    if let Some(c) = raw
        .chars()
        .find(|c| INVISIBLE.iter().any(|r| r.contains(c)))
    {
        return Err(ValidationError::new(
            field,
            format!("contains the invisible character U+{:04X}", c as u32),
        ));
    }
    if raw.contains(['/', '\\']) {
        return Err(ValidationError::new(
            field,
            "contains `/` or `\\` (ids are not paths)",
        ));
    }
    if raw == "." || raw == ".." {
        return Err(ValidationError::new(field, "must not be `.` or `..`"));
    }
    Ok(())
}

/// Characters that print as nothing or reorder text (zero-width, bidirectional controls, the
/// byte-order mark): two ids that look the same must be the same.
const INVISIBLE: [std::ops::RangeInclusive<char>; 5] = [
    '\u{200B}'..='\u{200F}',
    '\u{202A}'..='\u{202E}',
    '\u{2060}'..='\u{2064}',
    '\u{2066}'..='\u{2069}',
    '\u{FEFF}'..='\u{FEFF}',
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(UserId::parse("u-1").is_ok());
        assert_eq!(UserId::parse("").unwrap_err().field, "user_id");
        assert_eq!(ItemId::parse(" x").unwrap_err().field, "item_id");
        assert!(ItemId::parse("a\tb").is_err());
        assert!(ItemId::parse("x".repeat(MAX_ID_BYTES + 1)).is_err());
        assert!(ItemId::parse("x".repeat(MAX_ID_BYTES)).is_ok());
        for bad in [
            "../../etc/passwd",
            "a/b",
            "a\\b",
            ".",
            "..",
            "evil\u{202E}gpj",
            "\u{200B}x",
        ] {
            assert!(ItemId::parse(bad).is_err(), "{bad:?}");
        }
        for good in ["a.b", "...", "file.txt", "ü-1", "SKU 12", "a..b"] {
            assert!(ItemId::parse(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn deserialized_ids_can_be_validated() {
        let id: UserId = serde_json::from_str("\"\"").unwrap();
        assert!(id.validate().is_err());
    }
}
