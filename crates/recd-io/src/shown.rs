//! The Arrow/Parquet shape of impressions as `recd export --impressions` writes them: one flat
//! row per item shown, so that a CTR by position, source or variant is one `GROUP BY` and a
//! click joins its row on `(request_id, item_id)`. The answer's fields repeat on each of its
//! rows (Parquet's dictionary and run-length encodings make that cheap). `timestamp` is
//! `Timestamp(Millisecond, "UTC")` and integers are signed, as in the event export.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use recd_types::{Impression, ItemId, Shown, Surface, UserId};

/// One item of one impression.
#[derive(Debug, Clone)]
pub(crate) struct ShownRow {
    /// The answer (shared by its items).
    pub impression: Arc<Impression>,
    /// The item.
    pub shown: Shown,
}

/// The Arrow schema of exported impressions.
pub fn impression_schema() -> SchemaRef {
    let utf8 = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    let flag = |name: &str| Field::new(name, DataType::Boolean, false);
    Arc::new(Schema::new(vec![
        utf8("request_id", false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        utf8("surface", false),
        utf8("user_id", true),
        utf8("for_item_id", true),
        Field::new("experiments", experiments_type(), false),
        utf8("model_version", true),
        utf8("context", true),
        utf8("device", true),
        utf8("category", true),
        Field::new("position", DataType::Int64, false),
        utf8("item_id", false),
        utf8("source", false),
        Field::new("score", DataType::Float32, false),
        flag("cold"),
        flag("fallback"),
        flag("degraded"),
        flag("cached"),
        Field::new("latency_us", DataType::Int64, false),
    ]))
}

/// The list type exactly as [`ListBuilder`] produces it, so batches always match the schema.
fn experiments_type() -> DataType {
    ListBuilder::new(StringBuilder::new())
        .finish()
        .data_type()
        .clone()
}

/// Builds one record batch from shown items.
pub(crate) fn to_batch(rows: &[ShownRow]) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let mut request_id = StringBuilder::with_capacity(n, n * 16);
    let mut timestamp = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut surface = StringBuilder::new();
    let mut user_id = StringBuilder::new();
    let mut for_item = StringBuilder::new();
    let mut experiments = ListBuilder::new(StringBuilder::new());
    let mut model_version = StringBuilder::new();
    let mut context = StringBuilder::new();
    let mut device = StringBuilder::new();
    let mut category = StringBuilder::new();
    let mut position = Int64Builder::with_capacity(n);
    let mut item_id = StringBuilder::with_capacity(n, n * 8);
    let mut source = StringBuilder::new();
    let mut score = Float32Builder::with_capacity(n);
    let mut flags: [BooleanBuilder; 4] = std::array::from_fn(|_| BooleanBuilder::with_capacity(n));
    let mut latency = Int64Builder::with_capacity(n);
    for row in rows {
        let i = &*row.impression;
        request_id.append_value(&i.request_id);
        timestamp.append_value(i.at_ms);
        surface.append_value(match i.surface {
            Surface::Recommendations => "recommendations",
            Surface::Similar => "similar",
        });
        user_id.append_option(i.user_id.as_ref().map(UserId::as_str));
        for_item.append_option(i.item_id.as_ref().map(ItemId::as_str));
        for label in &i.experiments {
            experiments.values().append_value(label);
        }
        experiments.append(true);
        model_version.append_option(i.model_version.as_deref());
        context.append_option(i.context.as_deref());
        device.append_option(i.device.as_deref());
        category.append_option(i.category.as_deref());
        position.append_value(i64::from(row.shown.position));
        item_id.append_value(row.shown.item_id.as_str());
        source.append_value(&row.shown.source);
        score.append_value(row.shown.score);
        for (builder, value) in flags
            .iter_mut()
            .zip([i.cold, i.fallback, i.degraded, i.cached])
        {
            builder.append_value(value);
        }
        latency.append_value(i64::from(i.latency_us));
    }
    let [mut cold, mut fallback, mut degraded, mut cached] = flags;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(request_id.finish()),
        Arc::new(timestamp.finish()),
        Arc::new(surface.finish()),
        Arc::new(user_id.finish()),
        Arc::new(for_item.finish()),
        Arc::new(experiments.finish()),
        Arc::new(model_version.finish()),
        Arc::new(context.finish()),
        Arc::new(device.finish()),
        Arc::new(category.finish()),
        Arc::new(position.finish()),
        Arc::new(item_id.finish()),
        Arc::new(source.finish()),
        Arc::new(score.finish()),
        Arc::new(cold.finish()),
        Arc::new(fallback.finish()),
        Arc::new(degraded.finish()),
        Arc::new(cached.finish()),
        Arc::new(latency.finish()),
    ];
    RecordBatch::try_new(impression_schema(), columns)
}
