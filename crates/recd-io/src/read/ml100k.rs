//! MovieLens 100K: `u.data` (tab-separated ratings), `u.item` and `u.user` (`|`-separated).
//!
//! The files are Latin-1 (`u.item` has titles like `Misérables, Les (1995)`), so each byte is
//! decoded as the Unicode code point of the same value; for ASCII this changes nothing. The
//! rows are then turned into named cells and built by the same code as CSV rows, so validation
//! and error messages are the same.

use std::marker::PhantomData;
use std::path::Path;

use recd_types::{Event, Item, User};

use super::lines::Lines;
use super::{ReadRecord, RecordSource};
use crate::IoError;
use crate::error::FieldError;
use crate::fields::{Cell, Field, Raw, RecordKind, Row, Unit};
use crate::records::{self, RowRules};
use crate::time;

/// The 19 genre flags of `u.item`, in column order (the names of `u.genre`).
pub(crate) const GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// Reads `T`s from a MovieLens 100K file.
pub(crate) struct Ml100kSource<T> {
    lines: Lines,
    text: String,
    _kind: PhantomData<T>,
}

impl<T: ReadRecord> Ml100kSource<T> {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Self, IoError> {
        Ok(Self {
            lines: Lines::open(path)?,
            text: String::new(),
            _kind: PhantomData,
        })
    }
}

impl<T: ReadRecord> RecordSource<T> for Ml100kSource<T> {
    fn next_record(&mut self) -> Option<Result<T, IoError>> {
        if let Err(e) = self.lines.next_line()? {
            return Some(Err(e));
        }
        self.text.clear();
        self.text
            .extend(self.lines.current().iter().map(|&b| char::from(b)));
        let separator = if T::KIND == RecordKind::Events {
            '\t'
        } else {
            '|'
        };
        let fields: Vec<&str> = self.text.split(separator).collect();
        let parsed = T::from_ml100k(&fields);
        Some(parsed.map_err(|e| e.at(self.lines.path(), self.lines.line()).into()))
    }

    fn bytes_read(&self) -> u64 {
        self.lines.bytes()
    }
}

/// `user \t item \t rating \t unix_seconds` → a rating event.
pub(crate) fn event(fields: &[&str]) -> Result<Event, FieldError> {
    expect_fields(
        fields,
        &["user_id", "item_id", "rating", "timestamp"],
        "tab",
    )?;
    let row = row(
        fields,
        &[
            (Field::UserId, "user_id", Unit::Plain),
            (Field::ItemId, "item_id", Unit::Plain),
            (Field::Value, "rating", Unit::Plain),
            (Field::Timestamp, "timestamp", Unit::SecondsOrRfc3339),
        ],
    );
    let rules = RowRules {
        default_kind: Some(recd_types::EventKind::Rating),
        year_from_title: false,
    };
    records::event(&row, rules)
}

/// `id|age|gender|occupation|zip` → a profile with occupation and zip as attributes.
pub(crate) fn user(fields: &[&str]) -> Result<User, FieldError> {
    expect_fields(
        fields,
        &["user_id", "age", "gender", "occupation", "zip"],
        "|",
    )?;
    let row = row(
        fields,
        &[
            (Field::UserId, "user_id", Unit::Plain),
            (Field::Age, "age", Unit::Plain),
            (Field::Gender, "gender", Unit::Plain),
            (Field::Extra("occupation"), "occupation", Unit::Plain),
            (Field::Extra("zip"), "zip", Unit::Plain),
        ],
    );
    records::user(&row)
}

/// `id|title|release date|video release date|IMDb URL|19 genre flags` → an item.
///
/// Tags are the set genres; the category is the first set genre in `u.genre` order. The genre
/// `unknown` is MovieLens' mark for "no genre", not a genre, so it becomes neither.
pub(crate) fn item(fields: &[&str]) -> Result<Item, FieldError> {
    let mut names = vec![
        "item_id",
        "title",
        "release_date",
        "video_release_date",
        "imdb_url",
    ];
    names.extend(GENRES);
    expect_fields(fields, &names, "|")?;
    let created_at_ms = match fields[2] {
        "" => None,
        date => Some(
            time::parse_ml100k_date(date)
                .map_err(|reason| FieldError::field("release_date", Some(3), reason))?,
        ),
    };
    let mut genres = Vec::new();
    for (i, (flag, genre)) in fields[5..].iter().zip(GENRES).enumerate() {
        match *flag {
            "0" => {}
            "1" if genre == "unknown" => {}
            "1" => genres.push(genre),
            other => {
                return Err(FieldError::field(
                    genre,
                    Some(6 + i),
                    format!("genre flag {other:?} is not 0 or 1"),
                ));
            }
        }
    }
    let tags = genres.join("|");
    let created = created_at_ms.map(|ms| ms.to_string()).unwrap_or_default();
    let mut row = row(
        fields,
        &[
            (Field::ItemId, "item_id", Unit::Plain),
            (Field::Title, "title", Unit::Plain),
        ],
    );
    let extra = [
        (
            Field::CreatedAt,
            "release_date",
            3,
            Unit::Millis,
            created.as_str(),
        ),
        (
            Field::Extra("imdb_url"),
            "imdb_url",
            5,
            Unit::Plain,
            fields[4],
        ),
        (Field::Tags, "genres", 6, Unit::Plain, tags.as_str()),
        (
            Field::Category,
            "genres",
            6,
            Unit::Plain,
            genres.first().copied().unwrap_or(""),
        ),
    ];
    for (field, name, column, unit, value) in extra {
        row.cells.push(Cell {
            name,
            column: Some(column),
            field,
            unit,
            raw: Raw::Text(value),
        });
    }
    records::item(&row, RowRules::default())
}

fn expect_fields(fields: &[&str], names: &[&str], separator: &str) -> Result<(), FieldError> {
    if fields.len() == names.len() {
        return Ok(());
    }
    Err(FieldError::row(format!(
        "expected {} {separator}-separated fields ({}), found {}",
        names.len(),
        names.join(", "),
        fields.len()
    )))
}

/// Names the first `spec.len()` fields.
fn row<'a>(fields: &[&'a str], spec: &[(Field, &'static str, Unit)]) -> Row<'a> {
    let cells = spec
        .iter()
        .zip(fields)
        .enumerate()
        .map(|(i, ((field, name, unit), value))| Cell {
            name,
            column: Some(i + 1),
            field: *field,
            unit: *unit,
            raw: Raw::Text(value),
        })
        .collect();
    Row { cells }
}

#[cfg(test)]
mod tests {
    use recd_types::{EventKind, Gender};

    use super::*;

    fn split(line: &str, sep: char) -> Vec<&str> {
        line.split(sep).collect()
    }

    #[test]
    fn ratings() {
        let e = event(&split("196\t242\t3\t881250949", '\t')).unwrap();
        assert_eq!(e.user_id.as_str(), "196");
        assert_eq!(e.item_id.as_ref().unwrap().as_str(), "242");
        assert_eq!((e.kind, e.value), (EventKind::Rating, Some(3.0)));
        assert_eq!(e.timestamp_ms, 881_250_949_000);
    }

    #[test]
    fn bad_ratings_name_the_field() {
        let e = event(&split("196\t242\t3", '\t')).unwrap_err();
        assert!(e.reason.contains("expected 4"), "{}", e.reason);
        let e = event(&split("196\t242\tgood\t881250949", '\t')).unwrap_err();
        assert_eq!((e.field.as_deref(), e.column), (Some("rating"), Some(3)));
        let e = event(&split("196\t242\t3\tyesterday", '\t')).unwrap_err();
        assert_eq!((e.field.as_deref(), e.column), (Some("timestamp"), Some(4)));
        let e = event(&split("196\t242\t0\t881250949", '\t')).unwrap_err();
        assert_eq!((e.field.as_deref(), e.column), (Some("rating"), Some(3)));
    }

    #[test]
    fn users() {
        let u = user(&split("1|24|M|technician|85711", '|')).unwrap();
        assert_eq!(u.age, Some(24));
        assert_eq!(u.gender, Some(Gender::Male));
        assert_eq!(
            u.attributes.get("occupation").map(String::as_str),
            Some("technician")
        );
        assert_eq!(u.attributes.get("zip").map(String::as_str), Some("85711"));
        let e = user(&split("1|old|M|technician|85711", '|')).unwrap_err();
        assert_eq!((e.field.as_deref(), e.column), (Some("age"), Some(2)));
    }

    const STAR_WARS: &str = "50|Star Wars (1977)|01-Jan-1977||http://us.imdb.com/M/title-exact?Star%20Wars%20(1977)|0|1|1|0|0|0|0|0|0|0|0|0|0|0|1|1|0|1|0";

    #[test]
    fn items_get_genres_and_dates() {
        let i = item(&split(STAR_WARS, '|')).unwrap();
        assert_eq!(i.title, "Star Wars (1977)");
        assert_eq!(i.category.as_deref(), Some("Action"));
        assert_eq!(
            i.tags,
            vec!["Action", "Adventure", "Romance", "Sci-Fi", "War"]
        );
        assert_eq!(i.created_at_ms, Some(220_924_800_000));
        assert!(i.attributes["imdb_url"].starts_with("http://us.imdb.com/"));
    }

    #[test]
    fn item_267_has_no_date_and_only_unknown_genre() {
        let i = item(&split(
            "267|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0",
            '|',
        ))
        .unwrap();
        assert_eq!(i.title, "unknown");
        assert_eq!(i.created_at_ms, None);
        assert_eq!(i.category, None);
        assert!(i.tags.is_empty());
        assert!(i.attributes.is_empty());
    }

    #[test]
    fn bad_items_name_the_field() {
        let bad_date = STAR_WARS.replace("01-Jan-1977", "1977-01-01");
        let e = item(&split(&bad_date, '|')).unwrap_err();
        assert_eq!(
            (e.field.as_deref(), e.column),
            (Some("release_date"), Some(3))
        );
        let bad_flag = STAR_WARS.replace("|0|1|1|", "|0|1|x|");
        let e = item(&split(&bad_flag, '|')).unwrap_err();
        assert_eq!((e.field.as_deref(), e.column), (Some("Adventure"), Some(8)));
        let e = item(&split("50|Star Wars (1977)|01-Jan-1977", '|')).unwrap_err();
        assert!(e.reason.contains("expected 24"), "{}", e.reason);
    }

    #[test]
    fn latin1_titles_are_decoded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.item");
        let mut bytes = b"543|Mis".to_vec();
        bytes.push(0xE9); // é in Latin-1
        bytes.extend_from_slice(
            b"rables, Les (1995)|01-Jan-1995||http://x|0|0|0|0|0|0|0|0|1|0|0|0|1|0|0|0|0|0|0\n",
        );
        std::fs::write(&path, bytes).unwrap();
        let mut source = Ml100kSource::<Item>::open(&path).unwrap();
        let i = source.next_record().unwrap().unwrap();
        assert_eq!(i.title, "Misérables, Les (1995)");
        assert_eq!(i.tags, vec!["Drama", "Musical"]);
        assert!(source.next_record().is_none());
    }
}
