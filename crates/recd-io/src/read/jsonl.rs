//! JSON Lines: one object per line, keys from the same alias table as CSV headers.
//!
//! Unlike CSV, every line names its own fields, so unknown keys are a bad row (skippable), and
//! an event line must say its `type`: a missing key is more likely a mistake than a rating.

use std::marker::PhantomData;
use std::path::Path;

use super::lines::Lines;
use super::{ReadRecord, RecordSource};
use crate::IoError;
use crate::error::FieldError;
use crate::fields::{self, Cell, Naming, Raw, Row};
use crate::records::RowRules;

/// Reads `T`s from a JSONL file.
pub(crate) struct JsonlSource<T> {
    lines: Lines,
    _kind: PhantomData<T>,
}

impl<T: ReadRecord> JsonlSource<T> {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Self, IoError> {
        Ok(Self {
            lines: Lines::open(path)?,
            _kind: PhantomData,
        })
    }
}

impl<T: ReadRecord> RecordSource<T> for JsonlSource<T> {
    fn next_record(&mut self) -> Option<Result<T, IoError>> {
        if let Err(e) = self.lines.next_line()? {
            return Some(Err(e));
        }
        let parsed = parse_line::<T>(self.lines.current());
        Some(parsed.map_err(|e| e.at(self.lines.path(), self.lines.line()).into()))
    }

    fn bytes_read(&self) -> u64 {
        self.lines.bytes()
    }
}

fn parse_line<T: ReadRecord>(line: &[u8]) -> Result<T, FieldError> {
    let value: serde_json::Value = serde_json::from_slice(line)
        .map_err(|e| FieldError::row(format!("is not valid JSON: {e}")))?;
    let serde_json::Value::Object(object) = &value else {
        return Err(FieldError::row("is not a JSON object"));
    };
    let table = fields::columns(T::KIND, Naming::Recd);
    let mut unknown: Vec<String> = Vec::new();
    let mut cells: Vec<Cell<'_>> = Vec::with_capacity(object.len());
    for (key, raw) in object {
        let Some(column) = fields::lookup(table, key) else {
            unknown.push(format!("`{key}`"));
            continue;
        };
        if let Some(dup) = cells.iter().find(|c| c.field == column.field) {
            return Err(FieldError::field(
                key.as_str(),
                None,
                format!("gives the same field as `{}`; keep one", dup.name),
            ));
        }
        cells.push(Cell {
            name: key,
            column: None,
            field: column.field,
            unit: column.unit,
            raw: Raw::Json(raw),
        });
    }
    if !unknown.is_empty() {
        let known: Vec<&str> = table.iter().map(|c| c.name).collect();
        return Err(FieldError::row(format!(
            "unknown field(s) {}; known fields: {}",
            unknown.join(", "),
            known.join(", ")
        )));
    }
    // Every line names its fields, so no default event type: see the module doc.
    let rules = RowRules::default();
    T::from_row(&Row { cells }, rules)
}
