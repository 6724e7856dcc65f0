//! Rows to domain values: one builder per record kind, shared by CSV, JSONL and MovieLens CSV.
//!
//! A builder reads typed cells from a [`Row`], then runs the domain's own `validate()`; a
//! [`recd_types::ValidationError`] is pointed back at the column it came from, so the user sees
//! `field `rating`` when their header says `rating`, not the model's name `value`.

use recd_types::{Context, Event, EventKind, Gender, Item, ItemId, User, UserId, ValidationError};

use crate::error::FieldError;
use crate::fields::{Field, Row, field_of_validation};
use crate::time;

/// Options a file's header decides for every row.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RowRules {
    /// The event type of rows without a `type` (the protocol CSV has none: all are ratings).
    pub default_kind: Option<EventKind>,
    /// Derive `created_at` from a `(1995)` year in the title (MovieLens `movies.csv`).
    pub year_from_title: bool,
}

/// Builds and validates an event.
pub(crate) fn event(row: &Row<'_>, rules: RowRules) -> Result<Event, FieldError> {
    let user_id = row.required(Field::UserId, "user_id", |c| c.text())?;
    let user_id = UserId::parse(user_id).map_err(|e| validation(row, e))?;
    let item_id = row
        .optional(Field::ItemId, |c| c.text())?
        .map(ItemId::parse)
        .transpose()
        .map_err(|e| validation(row, e))?;
    let kind = match row.get(Field::Type) {
        Some(cell) => match cell.str("an event type")? {
            Some(name) => name
                .parse::<EventKind>()
                .map_err(|e| cell.error(e.reason))?,
            None => return Err(cell.error("is required")),
        },
        None => match rules.default_kind {
            Some(kind) => kind,
            None => return Err(FieldError::field("type", None, "is required")),
        },
    };
    let timestamp_ms = row.required(Field::Timestamp, "timestamp", |c| c.time_ms())?;
    let mut event = Event::new(user_id, item_id, kind, timestamp_ms);
    event.value = row.optional(Field::Value, |c| c.parse::<f32>("a number"))?;
    event.query = row.optional(Field::Query, |c| c.text())?;
    event.session_id = row.optional(Field::SessionId, |c| c.text())?;
    event.request_id = row.optional(Field::RequestId, |c| c.text())?;
    event.event_id = row.optional(Field::EventId, |c| c.text())?;
    event.dwell_ms = row.optional(Field::DwellMs, |c| {
        c.parse::<u32>("a whole number of milliseconds")
    })?;
    event.context = Context {
        device: row.optional(Field::Device, |c| c.text())?,
        page: row.optional(Field::Page, |c| c.text())?,
        extra: row
            .optional(Field::Context, |c| c.map().map(Some))?
            .unwrap_or_default(),
    };
    event.validate().map_err(|e| validation(row, e))?;
    Ok(event)
}

/// Builds and validates a catalog item.
pub(crate) fn item(row: &Row<'_>, rules: RowRules) -> Result<Item, FieldError> {
    let id = row.required(Field::ItemId, "item_id", |c| c.text())?;
    let id = ItemId::parse(id).map_err(|e| validation(row, e))?;
    let title = row
        .optional(Field::Title, |c| c.text())?
        .unwrap_or_default();
    let mut item = Item::new(id, title);
    item.category = row.optional(Field::Category, |c| c.text())?;
    item.tags = row
        .optional(Field::Tags, |c| c.list().map(Some))?
        .unwrap_or_default();
    if let Some(genres) = row.optional(Field::Genres, |c| c.text())? {
        item.tags = movielens_genres(&genres);
        item.category = item.category.or_else(|| item.tags.first().cloned());
    }
    item.price = row.optional(Field::Price, |c| c.parse::<f64>("a number"))?;
    item.created_at_ms = row.optional(Field::CreatedAt, |c| c.time_ms())?;
    if rules.year_from_title && item.created_at_ms.is_none() {
        item.created_at_ms = year_in_title(&item.title).and_then(time::year_to_ms);
    }
    item.available = row
        .optional(Field::Available, |c| c.bool())?
        .unwrap_or(true);
    item.sponsored = row
        .optional(Field::Sponsored, |c| c.bool())?
        .unwrap_or(false);
    item.attributes = row
        .optional(Field::Attributes, |c| c.map().map(Some))?
        .unwrap_or_default();
    add_extras(row, &mut item.attributes)?;
    item.validate().map_err(|e| validation(row, e))?;
    Ok(item)
}

/// Builds and validates a user profile.
pub(crate) fn user(row: &Row<'_>) -> Result<User, FieldError> {
    let id = row.required(Field::UserId, "user_id", |c| c.text())?;
    let id = UserId::parse(id).map_err(|e| validation(row, e))?;
    let mut user = User::new(id);
    user.signup_ms = row.optional(Field::Signup, |c| c.time_ms())?;
    user.country = row.optional(Field::Country, |c| c.text())?;
    user.age = row.optional(Field::Age, |c| c.parse::<u8>("an age in years"))?;
    user.gender = match row.get(Field::Gender) {
        Some(cell) => cell
            .text()?
            .map(|g| g.parse::<Gender>())
            .transpose()
            .map_err(|e| cell.error(e.reason))?,
        None => None,
    };
    user.interests = row
        .optional(Field::Interests, |c| c.list().map(Some))?
        .unwrap_or_default();
    user.attributes = row
        .optional(Field::Attributes, |c| c.map().map(Some))?
        .unwrap_or_default();
    add_extras(row, &mut user.attributes)?;
    user.validate().map_err(|e| validation(row, e))?;
    Ok(user)
}

/// Known extra columns go into `attributes`; a clash with the `attributes` object is an error
/// because one of the two values would be lost.
fn add_extras(
    row: &Row<'_>,
    attributes: &mut std::collections::BTreeMap<String, String>,
) -> Result<(), FieldError> {
    for cell in &row.cells {
        let Field::Extra(key) = cell.field else {
            continue;
        };
        if let Some(value) = cell.text()? {
            if attributes.contains_key(key) {
                return Err(cell.error(format!("is also set in `attributes` as {key:?}")));
            }
            attributes.insert(key.to_owned(), value);
        }
    }
    Ok(())
}

/// Points a domain rule violation at the cell it came from.
fn validation(row: &Row<'_>, err: ValidationError) -> FieldError {
    match field_of_validation(err.field) {
        Some(field) => row.error(field, err.field, err.reason),
        None => FieldError::field(err.field, None, err.reason),
    }
}

/// MovieLens genres: `Action|Sci-Fi`, with `(no genres listed)` meaning none.
fn movielens_genres(text: &str) -> Vec<String> {
    if text == "(no genres listed)" {
        return Vec::new();
    }
    text.split('|')
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The year of a MovieLens title: `Toy Story (1995)` → 1995; also `Show (1994-1998)`.
pub(crate) fn year_in_title(title: &str) -> Option<i16> {
    let inner = title.trim_end().strip_suffix(')')?;
    let open = inner.rfind('(')?;
    let inner = &inner[open + 1..];
    let digits = inner.get(..4)?;
    let rest = &inner[4..];
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !(rest.is_empty() || rest.starts_with('-') || rest.starts_with('–')) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{Cell, Naming, Raw, RecordKind, columns, lookup};

    /// A row from `name=value` pairs, resolved through the real column table.
    fn row<'a>(kind: RecordKind, pairs: &[(&'a str, &'a str)]) -> Row<'a> {
        let table = columns(kind, Naming::Recd);
        let cells = pairs
            .iter()
            .enumerate()
            .map(|(i, (name, value))| {
                let c = lookup(table, name).expect("known column");
                Cell {
                    name,
                    column: Some(i + 1),
                    field: c.field,
                    unit: c.unit,
                    raw: Raw::Text(value),
                }
            })
            .collect();
        Row { cells }
    }

    fn event_err(pairs: &[(&str, &str)]) -> FieldError {
        let rules = RowRules {
            default_kind: Some(EventKind::Rating),
            ..RowRules::default()
        };
        event(&row(RecordKind::Events, pairs), rules).unwrap_err()
    }

    #[test]
    fn protocol_rows_are_ratings() {
        let r = row(
            RecordKind::Events,
            &[
                ("user_id", "1"),
                ("item_id", "2"),
                ("rating", "4"),
                ("timestamp", "10"),
            ],
        );
        let rules = RowRules {
            default_kind: Some(EventKind::Rating),
            ..RowRules::default()
        };
        let e = event(&r, rules).unwrap();
        assert_eq!(e.kind, EventKind::Rating);
        assert_eq!(e.value, Some(4.0));
        assert_eq!(e.timestamp_ms, 10_000);
    }

    #[test]
    fn bad_event_fields_are_named_with_their_column() {
        let e = event_err(&[
            ("user_id", "1"),
            ("item_id", "2"),
            ("rating", "x"),
            ("timestamp", "1"),
        ]);
        assert_eq!((e.field.as_deref(), e.column), (Some("rating"), Some(3)));
        // Out of range: the domain's rule, pointed back at the `rating` column.
        let e = event_err(&[
            ("user_id", "1"),
            ("item_id", "2"),
            ("rating", "9"),
            ("timestamp", "1"),
        ]);
        assert_eq!((e.field.as_deref(), e.column), (Some("rating"), Some(3)));
        let e = event_err(&[
            ("user_id", "1"),
            ("item_id", "2"),
            ("type", "watch"),
            ("timestamp", "1"),
        ]);
        assert_eq!((e.field.as_deref(), e.column), (Some("type"), Some(3)));
        assert!(e.reason.contains("unknown event type"), "{}", e.reason);
        let e = event_err(&[
            ("user_id", "1"),
            ("item_id", "2"),
            ("rating", "3"),
            ("timestamp", "soon"),
        ]);
        assert_eq!((e.field.as_deref(), e.column), (Some("timestamp"), Some(4)));
        let e = event_err(&[
            ("user_id", ""),
            ("item_id", "2"),
            ("rating", "3"),
            ("timestamp", "1"),
        ]);
        assert_eq!((e.field.as_deref(), e.column), (Some("user_id"), Some(1)));
        let e = event_err(&[("user_id", "1"), ("type", "view"), ("timestamp", "1")]);
        assert_eq!(e.field.as_deref(), Some("item_id"));
        let e = event_err(&[
            ("user_id", "1"),
            ("item_id", "2"),
            ("type", "view"),
            ("timestamp", "1"),
            ("device", "a\u{7}"),
        ]);
        assert_eq!((e.field.as_deref(), e.column), (Some("device"), Some(5)));
    }

    #[test]
    fn full_event_row() {
        let r = row(
            RecordKind::Events,
            &[
                ("user_id", "u"),
                ("item_id", "i"),
                ("event", "click"),
                ("timestamp_ms", "1704067200123"),
                ("session_id", "s"),
                ("device", "mobile"),
                ("page", "home"),
                ("dwell_ms", "1500"),
                ("request_id", "r"),
                ("context", r#"{"ab":"b"}"#),
                ("event_id", "e-9"),
            ],
        );
        let e = event(&r, RowRules::default()).unwrap();
        assert_eq!(e.event_id.as_deref(), Some("e-9"));
        assert_eq!(e.kind, EventKind::Click);
        assert_eq!(e.timestamp_ms, 1_704_067_200_123);
        assert_eq!(e.context.device.as_deref(), Some("mobile"));
        assert_eq!(e.context.extra.get("ab").map(String::as_str), Some("b"));
        assert_eq!(e.dwell_ms, Some(1500));
    }

    #[test]
    fn synth_items_and_users() {
        let r = row(
            RecordKind::Items,
            &[
                ("item_id", "7"),
                ("category", "3"),
                ("price", "12.34"),
                ("created_at", "1704067200"),
            ],
        );
        let i = item(&r, RowRules::default()).unwrap();
        assert_eq!(i.title, "");
        assert_eq!(i.price, Some(12.34));
        assert_eq!(i.created_at_ms, Some(1_704_067_200_000));
        let r = row(
            RecordKind::Users,
            &[
                ("user_id", "1"),
                ("signup_at", "1704067200"),
                ("country", "US"),
                ("device", "mobile"),
            ],
        );
        let u = user(&r).unwrap();
        assert_eq!(
            u.attributes.get("device").map(String::as_str),
            Some("mobile")
        );
        assert_eq!(u.signup_ms, Some(1_704_067_200_000));
    }

    #[test]
    fn bad_item_and_user_fields() {
        let r = row(RecordKind::Items, &[("item_id", "7"), ("price", "-1")]);
        let e = item(&r, RowRules::default()).unwrap_err();
        assert_eq!((e.field.as_deref(), e.column), (Some("price"), Some(2)));
        let r = row(RecordKind::Items, &[("item_id", "7"), ("available", "yes")]);
        assert_eq!(
            item(&r, RowRules::default()).unwrap_err().field.as_deref(),
            Some("available")
        );
        let r = row(RecordKind::Users, &[("user_id", "1"), ("gender", "q")]);
        assert_eq!(user(&r).unwrap_err().field.as_deref(), Some("gender"));
        let r = row(RecordKind::Users, &[("user_id", "1"), ("age", "300")]);
        assert_eq!(user(&r).unwrap_err().field.as_deref(), Some("age"));
        let r = row(
            RecordKind::Users,
            &[
                ("user_id", "1"),
                ("attributes", r#"{"zip":"1"}"#),
                ("zip", "2"),
            ],
        );
        assert_eq!(user(&r).unwrap_err().field.as_deref(), Some("zip"));
    }

    #[test]
    fn movielens_titles_and_genres() {
        assert_eq!(year_in_title("Toy Story (1995)"), Some(1995));
        assert_eq!(year_in_title("Babylon 5 (1994-1998)"), Some(1994));
        assert_eq!(year_in_title("Great Show (2007-)"), Some(2007));
        assert_eq!(year_in_title("Unknown"), None);
        assert_eq!(year_in_title("Nineteen (Eighty) "), None);
        assert_eq!(movielens_genres("Action|Sci-Fi"), vec!["Action", "Sci-Fi"]);
        assert!(movielens_genres("(no genres listed)").is_empty());
    }
}
