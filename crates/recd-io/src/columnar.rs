//! The Arrow/Parquet shape of events: the schema `recd export` writes and Parquet import reads.
//!
//! One flat row per event, column names as in the generic CSV. Choices, for the batch jobs and
//! Spark that read the export:
//! - `timestamp` is `Timestamp(Millisecond, "UTC")`, which Spark reads as a `TIMESTAMP` without
//!   a conversion step; ms is the log's own unit, so nothing is rounded.
//! - `dwell_ms` is `Int64`, not `UInt32`: Spark and many engines have no unsigned types.
//! - `context` holds only the free pairs, as `Map<Utf8, Utf8>` (empty when there are none);
//!   `device` and `page` have their own columns because features and dashboards group by them.
//! - No `date` column: the day is the `date=YYYY-MM-DD` directory (Hive partitioning).
//! - `event_id` is last and optional on import: exports written before events had ids lack it.

use std::sync::Arc;

use arrow_array::builder::{
    Float32Builder, Int64Builder, MapBuilder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, MapArray, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use recd_types::{Context, Event, EventKind, ItemId, UserId};

use crate::error::FieldError;

/// Column names, in schema order.
pub(crate) const COLUMNS: [&str; 13] = [
    "user_id",
    "item_id",
    "type",
    "value",
    "query",
    "timestamp",
    "session_id",
    "device",
    "page",
    "dwell_ms",
    "request_id",
    "context",
    "event_id",
];

/// Columns a file may lack (older exports).
const OPTIONAL_COLUMNS: [&str; 1] = ["event_id"];

/// The Arrow schema of exported events.
pub fn event_schema() -> SchemaRef {
    let utf8 = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        utf8("user_id", false),
        utf8("item_id", true),
        utf8("type", false),
        Field::new("value", DataType::Float32, true),
        utf8("query", true),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        utf8("session_id", true),
        utf8("device", true),
        utf8("page", true),
        Field::new("dwell_ms", DataType::Int64, true),
        utf8("request_id", true),
        Field::new("context", context_type(), false),
        utf8("event_id", true),
    ]))
}

/// The map type exactly as [`MapBuilder`] produces it, so batches always match the schema.
fn context_type() -> DataType {
    context_builder().finish().data_type().clone()
}

fn context_builder() -> MapBuilder<StringBuilder, StringBuilder> {
    MapBuilder::new(None, StringBuilder::new(), StringBuilder::new())
}

/// Builds one record batch from events.
pub(crate) fn events_to_batch(events: &[Event]) -> Result<RecordBatch, ArrowError> {
    let n = events.len();
    let mut user_id = StringBuilder::with_capacity(n, n * 8);
    let mut item_id = StringBuilder::with_capacity(n, n * 8);
    let mut kind = StringBuilder::with_capacity(n, n * 6);
    let mut value = Float32Builder::with_capacity(n);
    let mut query = StringBuilder::new();
    let mut timestamp = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut session_id = StringBuilder::new();
    let mut device = StringBuilder::new();
    let mut page = StringBuilder::new();
    let mut dwell_ms = Int64Builder::with_capacity(n);
    let mut request_id = StringBuilder::new();
    let mut context = context_builder();
    let mut event_id = StringBuilder::new();
    for e in events {
        user_id.append_value(e.user_id.as_str());
        item_id.append_option(e.item_id.as_ref().map(ItemId::as_str));
        kind.append_value(e.kind.as_str());
        value.append_option(e.value);
        query.append_option(e.query.as_deref());
        timestamp.append_value(e.timestamp_ms);
        session_id.append_option(e.session_id.as_deref());
        device.append_option(e.context.device.as_deref());
        page.append_option(e.context.page.as_deref());
        dwell_ms.append_option(e.dwell_ms.map(i64::from));
        request_id.append_option(e.request_id.as_deref());
        event_id.append_option(e.event_id.as_deref());
        for (k, v) in &e.context.extra {
            context.keys().append_value(k);
            context.values().append_value(v);
        }
        context.append(true)?;
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(user_id.finish()),
        Arc::new(item_id.finish()),
        Arc::new(kind.finish()),
        Arc::new(value.finish()),
        Arc::new(query.finish()),
        Arc::new(timestamp.finish()),
        Arc::new(session_id.finish()),
        Arc::new(device.finish()),
        Arc::new(page.finish()),
        Arc::new(dwell_ms.finish()),
        Arc::new(request_id.finish()),
        Arc::new(context.finish()),
        Arc::new(event_id.finish()),
    ];
    RecordBatch::try_new(event_schema(), columns)
}

/// Checks that `schema` is the one we write: same names and types. Column order may differ,
/// so a file rewritten by another tool still reads; extra or retyped columns are refused.
pub(crate) fn check_schema(schema: &Schema) -> Result<(), String> {
    let ours = event_schema();
    let mut problems = Vec::new();
    for field in schema.fields() {
        match ours.field_with_name(field.name()) {
            Ok(expected) if expected.data_type() == field.data_type() => {}
            Ok(expected) => problems.push(format!(
                "column `{}` has type {}, expected {}",
                field.name(),
                field.data_type(),
                expected.data_type()
            )),
            Err(_) => problems.push(format!("unknown column `{}`", field.name())),
        }
    }
    for name in COLUMNS {
        if schema.field_with_name(name).is_err() && !OPTIONAL_COLUMNS.contains(&name) {
            problems.push(format!("missing column `{name}`"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "not the event schema `recd export` writes: {}",
            problems.join("; ")
        ))
    }
}

/// Typed views of the columns of one batch (whose schema passed [`check_schema`]).
pub(crate) struct EventColumns<'a> {
    user_id: &'a StringArray,
    item_id: &'a StringArray,
    kind: &'a StringArray,
    value: &'a arrow_array::PrimitiveArray<Float32Type>,
    query: &'a StringArray,
    timestamp: &'a arrow_array::PrimitiveArray<TimestampMillisecondType>,
    session_id: &'a StringArray,
    device: &'a StringArray,
    page: &'a StringArray,
    dwell_ms: &'a arrow_array::PrimitiveArray<Int64Type>,
    request_id: &'a StringArray,
    context: &'a MapArray,
    event_id: Option<&'a StringArray>,
}

impl<'a> EventColumns<'a> {
    /// Views `batch`'s columns by name; `None` if the schema is not ours.
    pub fn new(batch: &'a RecordBatch) -> Option<Self> {
        let col = |name: &str| batch.column_by_name(name);
        Some(Self {
            user_id: col("user_id")?.as_string_opt()?,
            item_id: col("item_id")?.as_string_opt()?,
            kind: col("type")?.as_string_opt()?,
            value: col("value")?.as_primitive_opt()?,
            query: col("query")?.as_string_opt()?,
            timestamp: col("timestamp")?.as_primitive_opt()?,
            session_id: col("session_id")?.as_string_opt()?,
            device: col("device")?.as_string_opt()?,
            page: col("page")?.as_string_opt()?,
            dwell_ms: col("dwell_ms")?.as_primitive_opt()?,
            request_id: col("request_id")?.as_string_opt()?,
            context: col("context")?.as_map_opt()?,
            event_id: match col("event_id") {
                Some(c) => Some(c.as_string_opt()?),
                None => None,
            },
        })
    }

    /// Builds and validates the event in row `i`; errors name the column.
    pub fn event(&self, i: usize) -> Result<Event, FieldError> {
        let bad = |name: &str, reason: String| {
            let column = COLUMNS.iter().position(|c| *c == name).map(|p| p + 1);
            FieldError::field(name, column, reason)
        };
        let text = |a: &StringArray| (!a.is_null(i)).then(|| a.value(i).to_owned());
        let user_id = text(self.user_id).ok_or_else(|| bad("user_id", "is null".into()))?;
        let user_id = UserId::parse(user_id).map_err(|e| bad("user_id", e.reason))?;
        let item_id = text(self.item_id)
            .map(ItemId::parse)
            .transpose()
            .map_err(|e| bad("item_id", e.reason))?;
        let kind: EventKind = text(self.kind)
            .ok_or_else(|| bad("type", "is null".into()))?
            .parse()
            .map_err(|e: recd_types::ValidationError| bad("type", e.reason))?;
        if self.timestamp.is_null(i) {
            return Err(bad("timestamp", "is null".into()));
        }
        let mut e = Event::new(user_id, item_id, kind, self.timestamp.value(i));
        e.value = (!self.value.is_null(i)).then(|| self.value.value(i));
        e.query = text(self.query);
        e.session_id = text(self.session_id);
        e.request_id = text(self.request_id);
        e.event_id = self.event_id.and_then(text);
        if !self.dwell_ms.is_null(i) {
            let dwell = self.dwell_ms.value(i);
            e.dwell_ms = Some(
                u32::try_from(dwell)
                    .map_err(|_| bad("dwell_ms", format!("{dwell} is out of range")))?,
            );
        }
        e.context = Context {
            device: text(self.device),
            page: text(self.page),
            extra: self.context_pairs(i).map_err(|r| bad("context", r))?,
        };
        e.validate().map_err(|v| {
            let name = match v.field {
                "context.device" => "device",
                "context.page" => "page",
                other => other,
            };
            bad(name, v.reason)
        })?;
        Ok(e)
    }

    fn context_pairs(
        &self,
        i: usize,
    ) -> Result<std::collections::BTreeMap<String, String>, String> {
        let mut pairs = std::collections::BTreeMap::new();
        if self.context.is_null(i) {
            return Ok(pairs);
        }
        let entries = self.context.value(i);
        let keys = entries
            .column(0)
            .as_string_opt::<i32>()
            .ok_or("keys are not strings")?;
        let values = entries
            .column(1)
            .as_string_opt::<i32>()
            .ok_or("values are not strings")?;
        for j in 0..entries.len() {
            if values.is_null(j) {
                return Err(format!("value of {:?} is null", keys.value(j)));
            }
            pairs.insert(keys.value(j).to_owned(), values.value(j).to_owned());
        }
        Ok(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events() -> Vec<Event> {
        let u = UserId::parse("u1").unwrap();
        let mut a = Event::new(
            u.clone(),
            Some(ItemId::parse("i").unwrap()),
            EventKind::Rating,
            5,
        );
        a.value = Some(4.5);
        a.context.extra.insert("k".into(), "v".into());
        a.context.extra.insert("k2".into(), "v2".into());
        a.event_id = Some("e-1".into());
        let mut b = Event::new(u, None, EventKind::Search, 1_704_067_200_000);
        b.query = Some("q".into());
        b.dwell_ms = Some(u32::MAX);
        b.context.device = Some("tv".into());
        vec![a, b]
    }

    #[test]
    fn batches_round_trip() {
        let batch = events_to_batch(&events()).unwrap();
        check_schema(batch.schema().as_ref()).unwrap();
        let cols = EventColumns::new(&batch).unwrap();
        let back: Vec<Event> = (0..batch.num_rows())
            .map(|i| cols.event(i).unwrap())
            .collect();
        assert_eq!(back, events());
        // An export from before event ids had no such column: it still reads.
        let old = batch.project(&(0..12).collect::<Vec<_>>()).unwrap();
        check_schema(old.schema().as_ref()).unwrap();
        let cols = EventColumns::new(&old).unwrap();
        assert_eq!(cols.event(0).unwrap().event_id, None);
    }

    #[test]
    fn foreign_schemas_are_named() {
        let schema = Schema::new(vec![
            Field::new("user_id", DataType::Int64, false),
            Field::new("colour", DataType::Utf8, true),
        ]);
        let err = check_schema(&schema).unwrap_err();
        assert!(err.contains("`user_id` has type Int64"), "{err}");
        assert!(err.contains("unknown column `colour`"), "{err}");
        assert!(err.contains("missing column `timestamp`"), "{err}");
    }
}
