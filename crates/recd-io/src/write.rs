//! CSV writers for events, items and users in the generic CSV format (see `docs/formats.md`).
//!
//! What they write, the generic CSV reader reads back to identical values; anything that would
//! not survive the trip (an empty optional string, which reads back as absent; a tag containing
//! the `|` list separator) is refused with [`IoError::Unrepresentable`] instead of written.

use std::collections::BTreeMap;
use std::io::Write;

use recd_types::{Event, Gender, Item, User};

use crate::IoError;

/// Header of the events CSV the writer produces.
pub const EVENT_HEADER: [&str; 13] = [
    "user_id",
    "item_id",
    "type",
    "value",
    "query",
    "timestamp_ms",
    "session_id",
    "device",
    "page",
    "dwell_ms",
    "request_id",
    "context",
    "event_id",
];

/// Header of the items CSV the writer produces.
pub const ITEM_HEADER: [&str; 9] = [
    "item_id",
    "title",
    "category",
    "tags",
    "price",
    "created_at_ms",
    "available",
    "sponsored",
    "attributes",
];

/// Header of the users CSV the writer produces.
pub const USER_HEADER: [&str; 7] = [
    "user_id",
    "signup_ms",
    "country",
    "age",
    "gender",
    "interests",
    "attributes",
];

/// Writes events as generic CSV, one row per event, header first.
pub struct CsvEventWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> CsvEventWriter<W> {
    /// Wraps `w` and writes the header.
    pub fn new(w: W) -> Result<Self, IoError> {
        let mut inner = csv::Writer::from_writer(w);
        inner.write_record(EVENT_HEADER).map_err(write_err)?;
        Ok(Self { inner })
    }

    /// Writes one event.
    pub fn write(&mut self, e: &Event) -> Result<(), IoError> {
        let row = [
            e.user_id.to_string(),
            e.item_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            e.kind.as_str().to_owned(),
            opt_display(e.value),
            opt_text("query", e.query.as_deref())?,
            e.timestamp_ms.to_string(),
            opt_text("session_id", e.session_id.as_deref())?,
            opt_text("device", e.context.device.as_deref())?,
            opt_text("page", e.context.page.as_deref())?,
            opt_display(e.dwell_ms),
            opt_text("request_id", e.request_id.as_deref())?,
            map_cell(&e.context.extra),
            opt_text("event_id", e.event_id.as_deref())?,
        ];
        self.inner.write_record(&row).map_err(write_err)
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> Result<W, IoError> {
        finish(self.inner)
    }
}

/// Writes catalog items as generic CSV, header first.
pub struct CsvItemWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> CsvItemWriter<W> {
    /// Wraps `w` and writes the header.
    pub fn new(w: W) -> Result<Self, IoError> {
        let mut inner = csv::Writer::from_writer(w);
        inner.write_record(ITEM_HEADER).map_err(write_err)?;
        Ok(Self { inner })
    }

    /// Writes one item.
    pub fn write(&mut self, item: &Item) -> Result<(), IoError> {
        let row = [
            item.id.to_string(),
            item.title.clone(),
            opt_text("category", item.category.as_deref())?,
            list_cell("tags", &item.tags)?,
            opt_display(item.price),
            opt_display(item.created_at_ms),
            item.available.to_string(),
            item.sponsored.to_string(),
            map_cell(&item.attributes),
        ];
        self.inner.write_record(&row).map_err(write_err)
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> Result<W, IoError> {
        finish(self.inner)
    }
}

/// Writes user profiles as generic CSV, header first.
pub struct CsvUserWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> CsvUserWriter<W> {
    /// Wraps `w` and writes the header.
    pub fn new(w: W) -> Result<Self, IoError> {
        let mut inner = csv::Writer::from_writer(w);
        inner.write_record(USER_HEADER).map_err(write_err)?;
        Ok(Self { inner })
    }

    /// Writes one user profile.
    pub fn write(&mut self, user: &User) -> Result<(), IoError> {
        let row = [
            user.id.to_string(),
            opt_display(user.signup_ms),
            opt_text("country", user.country.as_deref())?,
            opt_display(user.age),
            user.gender.map(gender_name).unwrap_or_default().to_owned(),
            list_cell("interests", &user.interests)?,
            map_cell(&user.attributes),
        ];
        self.inner.write_record(&row).map_err(write_err)
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> Result<W, IoError> {
        finish(self.inner)
    }
}

/// The name `Gender::from_str` reads back.
pub(crate) fn gender_name(g: Gender) -> &'static str {
    match g {
        Gender::Female => "female",
        Gender::Male => "male",
        Gender::Other => "other",
    }
}

/// Floats print in Rust's shortest round-trip form, so `parse` gives the same bits back.
fn opt_display<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn opt_text(field: &'static str, v: Option<&str>) -> Result<String, IoError> {
    match v {
        Some("") => Err(IoError::Unrepresentable {
            field,
            reason: "an empty string reads back as absent in CSV".into(),
        }),
        Some(s) => Ok(s.to_owned()),
        None => Ok(String::new()),
    }
}

fn list_cell(field: &'static str, list: &[String]) -> Result<String, IoError> {
    if let Some(bad) = list.iter().find(|s| s.is_empty() || s.contains('|')) {
        return Err(IoError::Unrepresentable {
            field,
            reason: format!("entry {bad:?} is empty or contains the list separator `|`"),
        });
    }
    Ok(list.join("|"))
}

fn map_cell(map: &BTreeMap<String, String>) -> String {
    if map.is_empty() {
        String::new()
    } else {
        // Serializing a map of strings cannot fail.
        serde_json::to_string(map).unwrap_or_default()
    }
}

fn finish<W: Write>(inner: csv::Writer<W>) -> Result<W, IoError> {
    inner
        .into_inner()
        .map_err(|e| IoError::Write(std::io::Error::other(e.error().to_string())))
}

fn write_err(err: csv::Error) -> IoError {
    match err.into_kind() {
        csv::ErrorKind::Io(e) => IoError::Write(e),
        other => IoError::Write(std::io::Error::other(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use recd_types::{EventKind, ItemId, UserId};

    use super::*;
    use crate::Format;

    fn events() -> Vec<Event> {
        let user = UserId::parse("u,1 \"quoted\"").unwrap();
        let item = Some(ItemId::parse("sku-9").unwrap());
        let mut rating = Event::new(
            user.clone(),
            item.clone(),
            EventKind::Rating,
            1_700_000_000_123,
        );
        rating.value = Some(3.7);
        let mut search = Event::new(user.clone(), None, EventKind::Search, 0);
        search.query = Some("star wars, \"new\"\nhope".replace('\n', " "));
        let mut click = Event::new(user, item, EventKind::Click, 1_704_067_200_000);
        click.session_id = Some("s1".into());
        click.request_id = Some("r1".into());
        click.event_id = Some("e1".into());
        click.dwell_ms = Some(u32::MAX);
        click.context.device = Some("mobile".into());
        click.context.page = Some("home".into());
        click
            .context
            .extra
            .insert("ab".into(), "variant \"b\"".into());
        vec![rating, search, click]
    }

    fn items() -> Vec<Item> {
        let mut full = Item::new(ItemId::parse("i1").unwrap(), "Misérables, Les (1995)");
        full.category = Some("Drama".into());
        full.tags = vec!["Drama".into(), "Musical".into()];
        full.price = Some(0.1 + 0.2);
        full.created_at_ms = Some(788_918_400_000);
        full.available = false;
        full.sponsored = true;
        full.attributes
            .insert("imdb_url".into(), "http://x?a=1,b".into());
        vec![full, Item::new(ItemId::parse("i2").unwrap(), "")]
    }

    fn users() -> Vec<User> {
        let mut full = User::new(UserId::parse("u1").unwrap());
        full.signup_ms = Some(1);
        full.country = Some("FR".into());
        full.age = Some(30);
        full.gender = Some(Gender::Other);
        full.interests = vec!["jazz".into(), "sci-fi".into()];
        full.attributes.insert("zip".into(), "75001".into());
        vec![full, User::new(UserId::parse("u2").unwrap())]
    }

    fn to_file(bytes: Vec<u8>) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn events_round_trip() {
        let mut w = CsvEventWriter::new(Vec::new()).unwrap();
        for e in &events() {
            w.write(e).unwrap();
        }
        let (_dir, path) = to_file(w.finish().unwrap());
        let back: Vec<Event> = crate::read_events(&path, Format::Auto)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back, events());
    }

    #[test]
    fn items_round_trip() {
        let mut w = CsvItemWriter::new(Vec::new()).unwrap();
        for i in &items() {
            w.write(i).unwrap();
        }
        let (_dir, path) = to_file(w.finish().unwrap());
        let back: Vec<Item> = crate::read_items(&path, Format::Csv)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back, items());
    }

    #[test]
    fn users_round_trip() {
        let mut w = CsvUserWriter::new(Vec::new()).unwrap();
        for u in &users() {
            w.write(u).unwrap();
        }
        let (_dir, path) = to_file(w.finish().unwrap());
        let back: Vec<User> = crate::read_users(&path, Format::Csv)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back, users());
    }

    #[test]
    fn lossy_values_are_refused() {
        let mut item = items().remove(0);
        item.tags = vec!["a|b".into()];
        let mut w = CsvItemWriter::new(Vec::new()).unwrap();
        let err = w.write(&item).unwrap_err();
        assert!(
            matches!(err, IoError::Unrepresentable { field: "tags", .. }),
            "{err}"
        );
        let mut e = events().remove(2);
        e.session_id = Some(String::new());
        let mut w = CsvEventWriter::new(Vec::new()).unwrap();
        let err = w.write(&e).unwrap_err();
        assert!(matches!(
            err,
            IoError::Unrepresentable {
                field: "session_id",
                ..
            }
        ));
    }

    #[test]
    fn header_is_written_even_without_rows() {
        let bytes = CsvUserWriter::new(Vec::new()).unwrap().finish().unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            USER_HEADER.join(",") + "\n"
        );
    }
}
