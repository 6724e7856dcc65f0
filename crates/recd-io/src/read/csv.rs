//! CSV with a header: the generic format (ours, also the protocol CSV) and MovieLens CSV.
//!
//! The header is resolved once through the alias table; unknown, duplicate or missing required
//! columns fail the whole file before any row is read, naming the columns.

use std::fs::File;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use super::{ReadRecord, RecordSource, rules_for};
use crate::IoError;
use crate::fields::{self, Cell, Column, Field, Naming, Raw, Row};
use crate::records::RowRules;

/// Reads `T`s from a CSV file with a header.
pub(crate) struct CsvSource<T> {
    path: PathBuf,
    reader: csv::Reader<File>,
    record: csv::StringRecord,
    headers: Vec<String>,
    columns: Vec<Column>,
    rules: RowRules,
    done: bool,
    _kind: PhantomData<T>,
}

impl<T: ReadRecord> CsvSource<T> {
    /// Opens `path` and checks its header against the columns `T` may have under `naming`.
    pub fn open(path: &Path, naming: Naming) -> Result<Self, IoError> {
        let file = File::open(path).map_err(|e| IoError::io(path, e))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .buffer_capacity(256 * 1024)
            .from_reader(file);
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| header_error(path, e))?
            .iter()
            .map(str::to_owned)
            .collect();
        let columns = resolve_header(path, &headers, T::KIND, naming)?;
        let has_type = columns.iter().any(|c| c.field == Field::Type);
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            record: csv::StringRecord::new(),
            headers,
            columns,
            rules: rules_for(T::KIND, naming, has_type),
            done: false,
            _kind: PhantomData,
        })
    }

    fn build(&self) -> Result<T, IoError> {
        let line = self.record.position().map_or(0, |p| p.line());
        let cells = self
            .columns
            .iter()
            .zip(self.headers.iter())
            .zip(self.record.iter())
            .enumerate()
            .map(|(i, ((c, name), value))| Cell {
                name,
                column: Some(i + 1),
                field: c.field,
                unit: c.unit,
                raw: Raw::Text(value),
            })
            .collect();
        let row = Row { cells };
        T::from_row(&row, self.rules).map_err(|e| e.at(&self.path, line).into())
    }

    fn read_error(&mut self, err: csv::Error) -> IoError {
        let path = &self.path;
        let at = |pos: Option<&csv::Position>| pos.map_or(0, |p| p.line());
        let row_error = |line, column, field, reason: String| {
            IoError::BadRow(crate::RowError {
                path: path.clone(),
                line,
                column,
                field,
                reason,
            })
        };
        match err.into_kind() {
            csv::ErrorKind::UnequalLengths {
                pos,
                expected_len,
                len,
            } => row_error(
                at(pos.as_ref()),
                None,
                None,
                format!("expected {expected_len} fields as in the header, found {len}"),
            ),
            csv::ErrorKind::Utf8 { pos, err } => row_error(
                at(pos.as_ref()),
                Some(err.field() + 1),
                self.headers.get(err.field()).cloned(),
                "is not valid UTF-8".into(),
            ),
            csv::ErrorKind::Io(e) => {
                self.done = true;
                IoError::io(path, e)
            }
            other => {
                self.done = true;
                IoError::bad_file(path, format!("{other:?}"))
            }
        }
    }
}

impl<T: ReadRecord> RecordSource<T> for CsvSource<T> {
    fn next_record(&mut self) -> Option<Result<T, IoError>> {
        if self.done {
            return None;
        }
        match self.reader.read_record(&mut self.record) {
            Ok(true) => Some(self.build()),
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => Some(Err(self.read_error(e))),
        }
    }

    fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }
}

/// Maps each header to its column, or fails naming every unknown, duplicate or missing one.
pub(crate) fn resolve_header(
    path: &Path,
    headers: &[String],
    kind: fields::RecordKind,
    naming: Naming,
) -> Result<Vec<Column>, IoError> {
    let table = fields::columns(kind, naming);
    let known = || {
        let names: Vec<&str> = table.iter().map(|c| c.name).collect();
        names.join(", ")
    };
    let unknown: Vec<&str> = headers
        .iter()
        .filter(|h| fields::lookup(table, h).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(IoError::bad_file(
            path,
            format!(
                "unknown column(s) {} in a {} file; known columns: {}",
                quote_all(&unknown),
                kind.as_str(),
                known()
            ),
        ));
    }
    let columns: Vec<Column> = headers
        .iter()
        .filter_map(|h| fields::lookup(table, h))
        .collect();
    for (i, c) in columns.iter().enumerate() {
        if let Some(dup) = columns[..i].iter().find(|d| d.field == c.field) {
            return Err(IoError::bad_file(
                path,
                format!(
                    "columns `{}` and `{}` both give the same field; keep one",
                    dup.name, c.name
                ),
            ));
        }
    }
    let missing: Vec<&str> = fields::required(kind)
        .iter()
        .filter(|f| !columns.iter().any(|c| c.field == **f))
        .filter_map(|f| table.iter().find(|c| c.field == *f).map(|c| c.name))
        .collect();
    if !missing.is_empty() {
        return Err(IoError::bad_file(
            path,
            format!("missing required column(s) {}", quote_all(&missing)),
        ));
    }
    Ok(columns)
}

fn quote_all(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

fn header_error(path: &Path, err: csv::Error) -> IoError {
    match err.into_kind() {
        csv::ErrorKind::Io(e) => IoError::io(path, e),
        other => IoError::bad_file(path, format!("cannot read the header line: {other:?}")),
    }
}
