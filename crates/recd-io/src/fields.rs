//! The one table of column names, and typed access to one row's cells.
//!
//! CSV headers, JSONL keys and MovieLens CSV headers all resolve through [`columns`]: a name
//! maps to a [`Field`] and a [`Unit`] (how its text becomes a value). Aliases (`rating` for
//! `value`, `event` for `type`, `created_at` in seconds for `created_at_ms`) are rows of the
//! table, not special cases in the parsers. Unknown names are an error: a typo in a header
//! must not silently drop a column of data.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::error::FieldError;
use crate::time;

/// What a column means, whatever the input calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    UserId,
    ItemId,
    Type,
    Value,
    Query,
    Timestamp,
    SessionId,
    Device,
    Page,
    DwellMs,
    RequestId,
    EventId,
    Context,
    Title,
    Category,
    Tags,
    /// MovieLens `genres`: `|`-separated, `(no genres listed)` for none; become tags + category.
    Genres,
    Price,
    CreatedAt,
    Available,
    Sponsored,
    Attributes,
    Signup,
    Country,
    Age,
    Gender,
    Interests,
    /// A known extra column stored under this key in `attributes`.
    Extra(&'static str),
}

/// How a cell's text becomes a timestamp; `Plain` for every non-time field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Plain,
    Millis,
    SecondsOrRfc3339,
}

/// One row of the alias table: a column name as inputs spell it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    pub name: &'static str,
    pub field: Field,
    pub unit: Unit,
}

const fn col(name: &'static str, field: Field) -> Column {
    Column {
        name,
        field,
        unit: Unit::Plain,
    }
}

const fn time_col(name: &'static str, field: Field, unit: Unit) -> Column {
    Column { name, field, unit }
}

/// The kind of record a file holds; decided by the flag the file was passed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// Interactions (`--events`).
    Events,
    /// Catalog items (`--items`).
    Items,
    /// User profiles (`--users`).
    Users,
}

impl RecordKind {
    /// Lower-case plural name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Events => "events",
            RecordKind::Items => "items",
            RecordKind::Users => "users",
        }
    }
}

/// Which naming a header follows: ours, or MovieLens' `ratings.csv`/`movies.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Naming {
    Recd,
    MovieLens,
}

use Field as F;
use Unit::{Millis, SecondsOrRfc3339 as Secs};

/// Generic event columns. `event` (synth.py) and `rating` (protocol CSV) are aliases.
const EVENT_COLUMNS: &[Column] = &[
    col("user_id", F::UserId),
    col("item_id", F::ItemId),
    col("type", F::Type),
    col("event", F::Type),
    col("value", F::Value),
    col("rating", F::Value),
    col("query", F::Query),
    time_col("timestamp_ms", F::Timestamp, Millis),
    time_col("timestamp", F::Timestamp, Secs),
    col("session_id", F::SessionId),
    col("device", F::Device),
    col("page", F::Page),
    col("dwell_ms", F::DwellMs),
    col("request_id", F::RequestId),
    col("context", F::Context),
    col("event_id", F::EventId),
];

/// Generic item columns; `imdb_url` is the one known extra (MovieLens 100K carries it).
const ITEM_COLUMNS: &[Column] = &[
    col("item_id", F::ItemId),
    col("title", F::Title),
    col("category", F::Category),
    col("tags", F::Tags),
    col("price", F::Price),
    time_col("created_at_ms", F::CreatedAt, Millis),
    time_col("created_at", F::CreatedAt, Secs),
    col("available", F::Available),
    col("sponsored", F::Sponsored),
    col("attributes", F::Attributes),
    col("imdb_url", F::Extra("imdb_url")),
];

/// Generic user columns; `device` (synth.py), `occupation` and `zip` (MovieLens) are extras.
const USER_COLUMNS: &[Column] = &[
    col("user_id", F::UserId),
    time_col("signup_ms", F::Signup, Millis),
    time_col("signup_at", F::Signup, Secs),
    col("country", F::Country),
    col("age", F::Age),
    col("gender", F::Gender),
    col("interests", F::Interests),
    col("attributes", F::Attributes),
    col("device", F::Extra("device")),
    col("occupation", F::Extra("occupation")),
    col("zip", F::Extra("zip")),
];

/// MovieLens `ratings.csv`.
const ML_RATING_COLUMNS: &[Column] = &[
    col("userId", F::UserId),
    col("movieId", F::ItemId),
    col("rating", F::Value),
    time_col("timestamp", F::Timestamp, Secs),
];

/// MovieLens `movies.csv`.
const ML_MOVIE_COLUMNS: &[Column] = &[
    col("movieId", F::ItemId),
    col("title", F::Title),
    col("genres", F::Genres),
];

/// The columns a file of `kind` may have under `naming`.
pub(crate) fn columns(kind: RecordKind, naming: Naming) -> &'static [Column] {
    match (naming, kind) {
        (Naming::Recd, RecordKind::Events) => EVENT_COLUMNS,
        (Naming::Recd, RecordKind::Items) => ITEM_COLUMNS,
        (Naming::Recd, RecordKind::Users) => USER_COLUMNS,
        (Naming::MovieLens, RecordKind::Events) => ML_RATING_COLUMNS,
        (Naming::MovieLens, RecordKind::Items) => ML_MOVIE_COLUMNS,
        // MovieLens CSV releases have no user file; the importer refuses before asking.
        (Naming::MovieLens, RecordKind::Users) => &[],
    }
}

/// Fields without which no row of `kind` can be built.
pub(crate) fn required(kind: RecordKind) -> &'static [Field] {
    match kind {
        RecordKind::Events => &[F::UserId, F::Timestamp],
        RecordKind::Items => &[F::ItemId],
        RecordKind::Users => &[F::UserId],
    }
}

/// Looks a name up in a column table.
pub(crate) fn lookup(table: &[Column], name: &str) -> Option<Column> {
    table.iter().copied().find(|c| c.name == name)
}

/// The field a [`recd_types::ValidationError`] names, so the error can point at the column.
pub(crate) fn field_of_validation(name: &str) -> Option<Field> {
    Some(match name {
        "user_id" => F::UserId,
        "item_id" => F::ItemId,
        "type" => F::Type,
        "value" => F::Value,
        "query" => F::Query,
        "timestamp" => F::Timestamp,
        "session_id" => F::SessionId,
        "request_id" => F::RequestId,
        "event_id" => F::EventId,
        "context.device" => F::Device,
        "context.page" => F::Page,
        "context" => F::Context,
        "title" => F::Title,
        "category" => F::Category,
        "tags" => F::Tags,
        "price" => F::Price,
        "created_at" => F::CreatedAt,
        "attributes" => F::Attributes,
        "signup" => F::Signup,
        "country" => F::Country,
        "age" => F::Age,
        "gender" => F::Gender,
        "interests" => F::Interests,
        _ => return None,
    })
}

/// The raw value of one cell.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw<'a> {
    /// A CSV field.
    Text(&'a str),
    /// A JSON value.
    Json(&'a serde_json::Value),
}

/// One cell of a row, with the name and column it came from (for error messages).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cell<'a> {
    pub name: &'a str,
    pub column: Option<usize>,
    pub field: Field,
    pub unit: Unit,
    pub raw: Raw<'a>,
}

/// The cells of one input row, resolved to fields.
#[derive(Debug, Default)]
pub(crate) struct Row<'a> {
    pub cells: Vec<Cell<'a>>,
}

impl<'a> Row<'a> {
    /// The cell for `field`, if the row has one (the first, for extras with distinct keys).
    pub fn get(&self, field: Field) -> Option<&Cell<'a>> {
        self.cells.iter().find(|c| c.field == field)
    }

    /// Points an error about `field` at its cell, or at the bare name if the row lacks it.
    pub fn error(
        &self,
        field: Field,
        fallback_name: &str,
        reason: impl Into<String>,
    ) -> FieldError {
        match self.get(field) {
            Some(cell) => cell.error(reason),
            None => FieldError::field(fallback_name, None, reason),
        }
    }

    /// The value of a required field, or an error naming it.
    pub fn required<T>(
        &self,
        field: Field,
        name: &str,
        read: impl FnOnce(&Cell<'a>) -> Result<Option<T>, FieldError>,
    ) -> Result<T, FieldError> {
        match self.get(field) {
            Some(cell) => read(cell)?.ok_or_else(|| cell.error("is required")),
            None => Err(FieldError::field(name, None, "is required")),
        }
    }

    /// The value of an optional field.
    pub fn optional<T>(
        &self,
        field: Field,
        read: impl FnOnce(&Cell<'a>) -> Result<Option<T>, FieldError>,
    ) -> Result<Option<T>, FieldError> {
        match self.get(field) {
            Some(cell) => read(cell),
            None => Ok(None),
        }
    }
}

impl Cell<'_> {
    /// An error about this cell.
    pub fn error(&self, reason: impl Into<String>) -> FieldError {
        FieldError::field(self.name, self.column, reason)
    }

    /// Text, or `None` for an empty CSV cell or JSON null. JSON numbers are accepted as text
    /// because ids are often numeric in JSON exports.
    pub fn text(&self) -> Result<Option<String>, FieldError> {
        Ok(self.str("a string")?.map(Cow::into_owned))
    }

    /// The cell as text without copying it (CSV cells and JSON strings are borrowed; JSON
    /// numbers are formatted), or `None` when empty; `what` names the expected value in errors.
    pub fn str(&self, what: &str) -> Result<Option<Cow<'_, str>>, FieldError> {
        match self.raw {
            Raw::Text("") | Raw::Json(serde_json::Value::Null) => Ok(None),
            Raw::Text(s) => Ok(Some(Cow::Borrowed(s))),
            Raw::Json(serde_json::Value::String(s)) => Ok(Some(Cow::Borrowed(s.as_str()))),
            Raw::Json(serde_json::Value::Number(n)) => Ok(Some(Cow::Owned(n.to_string()))),
            Raw::Json(other) => Err(self.error(format!("expected {what}, found {other}"))),
        }
    }

    /// A value parsed from text (CSV, or a JSON string) or taken from a JSON number.
    pub fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<Option<T>, FieldError> {
        let Some(text) = self.str(what)? else {
            return Ok(None);
        };
        text.trim()
            .parse()
            .map(Some)
            .map_err(|_| self.error(format!("{text:?} is not {what}")))
    }

    /// `true` or `false` (CSV text or a JSON boolean).
    pub fn bool(&self) -> Result<Option<bool>, FieldError> {
        match self.raw {
            Raw::Json(serde_json::Value::Bool(b)) => Ok(Some(*b)),
            Raw::Json(serde_json::Value::Null) | Raw::Text("") => Ok(None),
            Raw::Text("true") => Ok(Some(true)),
            Raw::Text("false") => Ok(Some(false)),
            Raw::Text(s) => Err(self.error(format!("{s:?} is not true or false"))),
            Raw::Json(other) => Err(self.error(format!("expected true or false, found {other}"))),
        }
    }

    /// A timestamp in ms, read according to the column's unit.
    pub fn time_ms(&self) -> Result<Option<i64>, FieldError> {
        let Some(text) = self.str("a timestamp")? else {
            return Ok(None);
        };
        let parsed = match self.unit {
            Unit::Millis => time::parse_millis(&text),
            Unit::SecondsOrRfc3339 | Unit::Plain => time::parse_seconds_or_rfc3339(&text),
        };
        parsed.map(Some).map_err(|reason| self.error(reason))
    }

    /// A list: `a|b|c` in CSV (empty cell = empty list), an array of strings in JSON.
    pub fn list(&self) -> Result<Vec<String>, FieldError> {
        match self.raw {
            Raw::Text("") | Raw::Json(serde_json::Value::Null) => Ok(Vec::new()),
            Raw::Text(s) => {
                let items: Vec<String> = s.split('|').map(str::to_owned).collect();
                if items.iter().any(String::is_empty) {
                    return Err(self.error(format!("{s:?} has an empty entry")));
                }
                Ok(items)
            }
            Raw::Json(serde_json::Value::Array(values)) => values
                .iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Ok(s.clone()),
                    other => Err(self.error(format!("expected strings, found {other}"))),
                })
                .collect(),
            Raw::Json(other) => {
                Err(self.error(format!("expected an array of strings, found {other}")))
            }
        }
    }

    /// A map of string pairs: a JSON object, nested in JSONL or as text in a CSV cell.
    pub fn map(&self) -> Result<BTreeMap<String, String>, FieldError> {
        let parsed;
        let value = match self.raw {
            Raw::Text("") | Raw::Json(serde_json::Value::Null) => return Ok(BTreeMap::new()),
            Raw::Text(s) => {
                parsed = serde_json::from_str::<serde_json::Value>(s)
                    .map_err(|e| self.error(format!("is not a JSON object: {e}")))?;
                &parsed
            }
            Raw::Json(v) => v,
        };
        let serde_json::Value::Object(object) = value else {
            return Err(self.error(format!("expected a JSON object, found {value}")));
        };
        object
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(self.error(format!("value of {k:?} must be a string, found {other}"))),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(raw: Raw<'_>) -> Cell<'_> {
        Cell {
            name: "x",
            column: Some(3),
            field: F::Tags,
            unit: Unit::Plain,
            raw,
        }
    }

    #[test]
    fn every_name_is_unique_within_its_table() {
        for kind in [RecordKind::Events, RecordKind::Items, RecordKind::Users] {
            for naming in [Naming::Recd, Naming::MovieLens] {
                let table = columns(kind, naming);
                for (i, c) in table.iter().enumerate() {
                    assert!(
                        table[i + 1..].iter().all(|d| d.name != c.name),
                        "{}",
                        c.name
                    );
                }
            }
        }
    }

    #[test]
    fn aliases_resolve_to_one_field() {
        let t = columns(RecordKind::Events, Naming::Recd);
        assert_eq!(lookup(t, "rating").unwrap().field, F::Value);
        assert_eq!(lookup(t, "event").unwrap().field, F::Type);
        assert_eq!(lookup(t, "timestamp").unwrap().unit, Unit::SecondsOrRfc3339);
        assert_eq!(lookup(t, "timestamp_ms").unwrap().unit, Unit::Millis);
        assert!(lookup(t, "timestmap").is_none());
        let u = columns(RecordKind::Users, Naming::Recd);
        assert_eq!(lookup(u, "device").unwrap().field, F::Extra("device"));
    }

    #[test]
    fn text_cells() {
        assert_eq!(cell(Raw::Text("")).text().unwrap(), None);
        assert_eq!(cell(Raw::Text("a")).text().unwrap().as_deref(), Some("a"));
        let n = serde_json::json!(42);
        assert_eq!(cell(Raw::Json(&n)).text().unwrap().as_deref(), Some("42"));
        let b = serde_json::json!(true);
        assert!(cell(Raw::Json(&b)).text().is_err());
    }

    #[test]
    fn numbers_and_bools() {
        assert_eq!(
            cell(Raw::Text("4.5")).parse::<f32>("a number").unwrap(),
            Some(4.5)
        );
        let err = cell(Raw::Text("four"))
            .parse::<f32>("a number")
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("x"));
        assert_eq!(err.column, Some(3));
        assert_eq!(cell(Raw::Text("true")).bool().unwrap(), Some(true));
        assert!(cell(Raw::Text("yes")).bool().is_err());
    }

    #[test]
    fn lists_and_maps() {
        assert_eq!(cell(Raw::Text("a|b")).list().unwrap(), vec!["a", "b"]);
        assert!(cell(Raw::Text("")).list().unwrap().is_empty());
        assert!(cell(Raw::Text("a||b")).list().is_err());
        let arr = serde_json::json!(["a", 1]);
        assert!(cell(Raw::Json(&arr)).list().is_err());
        let m = cell(Raw::Text(r#"{"k":"v"}"#)).map().unwrap();
        assert_eq!(m.get("k").map(String::as_str), Some("v"));
        assert!(cell(Raw::Text(r#"{"k":1}"#)).map().is_err());
        assert!(cell(Raw::Text("[1]")).map().is_err());
        assert!(cell(Raw::Text("{")).map().is_err());
    }
}
