//! Streaming readers: each yields one record at a time, so memory does not grow with the file.
//!
//! A reader yields `Err(IoError::BadRow(..))` for a bad row and carries on with the next one
//! when asked again (the importer decides whether to stop or skip); any other error ends it.

mod csv;
mod jsonl;
mod lines;
mod ml100k;
mod parquet;
#[cfg(test)]
mod parquet_panics;
#[cfg(test)]
mod proptests;

use std::path::Path;

use recd_types::{Event, EventKind, Item, User};

use crate::IoError;
use crate::error::FieldError;
use crate::fields::{Naming, RecordKind, Row};
use crate::format::{self, Format};
use crate::records::{self, RowRules};

/// A stream of records read from one file.
pub(crate) trait RecordSource<T> {
    /// The next record, a bad row, a fatal error, or `None` at the end.
    fn next_record(&mut self) -> Option<Result<T, IoError>>;
    /// How far into the file the reader is, in bytes (for progress).
    fn bytes_read(&self) -> u64;
}

/// A record kind the readers can produce: [`Event`], [`Item`] or [`User`].
pub(crate) trait ReadRecord: Sized + 'static {
    /// Which kind this is.
    const KIND: RecordKind;

    /// Builds one record from a row of named cells (CSV, JSONL, MovieLens CSV).
    fn from_row(row: &Row<'_>, rules: RowRules) -> Result<Self, FieldError>;

    /// Builds one record from the fields of a MovieLens 100K line.
    fn from_ml100k(fields: &[&str]) -> Result<Self, FieldError>;

    /// Opens a Parquet file of this kind.
    fn open_parquet(path: &Path) -> Result<Box<dyn RecordSource<Self>>, IoError> {
        Err(IoError::bad_file(
            path,
            format!(
                "parquet import holds events only (the schema `recd export` writes), not {}",
                Self::KIND.as_str()
            ),
        ))
    }
}

impl ReadRecord for Event {
    const KIND: RecordKind = RecordKind::Events;

    fn from_row(row: &Row<'_>, rules: RowRules) -> Result<Self, FieldError> {
        records::event(row, rules)
    }

    fn from_ml100k(fields: &[&str]) -> Result<Self, FieldError> {
        ml100k::event(fields)
    }

    fn open_parquet(path: &Path) -> Result<Box<dyn RecordSource<Self>>, IoError> {
        Ok(Box::new(parquet::ParquetEventSource::open(path)?))
    }
}

impl ReadRecord for Item {
    const KIND: RecordKind = RecordKind::Items;

    fn from_row(row: &Row<'_>, rules: RowRules) -> Result<Self, FieldError> {
        records::item(row, rules)
    }

    fn from_ml100k(fields: &[&str]) -> Result<Self, FieldError> {
        ml100k::item(fields)
    }
}

impl ReadRecord for User {
    const KIND: RecordKind = RecordKind::Users;

    fn from_row(row: &Row<'_>, _rules: RowRules) -> Result<Self, FieldError> {
        records::user(row)
    }

    fn from_ml100k(fields: &[&str]) -> Result<Self, FieldError> {
        ml100k::user(fields)
    }
}

/// Opens `path` as a stream of `T` in `format` (resolving `auto` first).
pub(crate) fn open<T: ReadRecord>(
    path: &Path,
    format: Format,
) -> Result<Box<dyn RecordSource<T>>, IoError> {
    match format::resolve(path, format)? {
        Format::Auto => unreachable!("resolve never returns Auto"),
        Format::Ml100k => Ok(Box::new(ml100k::Ml100kSource::<T>::open(path)?)),
        Format::Csv => Ok(Box::new(csv::CsvSource::<T>::open(path, Naming::Recd)?)),
        Format::MovielensCsv => {
            if T::KIND == RecordKind::Users {
                return Err(IoError::bad_file(
                    path,
                    "MovieLens CSV releases have no user file; use --format csv for profiles",
                ));
            }
            Ok(Box::new(csv::CsvSource::<T>::open(
                path,
                Naming::MovieLens,
            )?))
        }
        Format::Jsonl => Ok(Box::new(jsonl::JsonlSource::<T>::open(path)?)),
        Format::Parquet => T::open_parquet(path),
    }
}

/// The rules a file's columns decide, given the kind and naming.
pub(crate) fn rules_for(kind: RecordKind, naming: Naming, has_type: bool) -> RowRules {
    RowRules {
        // A file without a `type` column holds ratings: the protocol CSV and ratings.csv.
        default_kind: (kind == RecordKind::Events && !has_type).then_some(EventKind::Rating),
        year_from_title: kind == RecordKind::Items && naming == Naming::MovieLens,
    }
}

/// Records read from one file, in file order; see [`read_events`].
pub struct Records<T> {
    source: Box<dyn RecordSource<T>>,
}

impl<T> Records<T> {
    /// Bytes of the file consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.source.bytes_read()
    }
}

impl<T> Iterator for Records<T> {
    type Item = Result<T, IoError>;

    /// A bad row comes as `Err(IoError::BadRow)` and reading may go on after it; after any
    /// other error the iterator ends.
    fn next(&mut self) -> Option<Self::Item> {
        self.source.next_record()
    }
}

/// Reads events from `path` in `format`, one at a time, validated.
pub fn read_events(path: &Path, format: Format) -> Result<Records<Event>, IoError> {
    Ok(Records {
        source: open(path, format)?,
    })
}

/// Reads catalog items from `path` in `format`, one at a time, validated.
pub fn read_items(path: &Path, format: Format) -> Result<Records<Item>, IoError> {
    Ok(Records {
        source: open(path, format)?,
    })
}

/// Reads user profiles from `path` in `format`, one at a time, validated.
pub fn read_users(path: &Path, format: Format) -> Result<Records<User>, IoError> {
    Ok(Records {
        source: open(path, format)?,
    })
}
