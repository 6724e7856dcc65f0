//! recd's file formats: importers, CSV writers, and the Parquet exporter.
//!
//! Job: turn files into validated [`recd_types`] values and into the store, and the store's
//! event history back into files, streaming, with memory bounded whatever the file size.
//! Non-goals: no progress bars or terminal output (the `recd` binary draws those from the
//! callbacks here), no network sources, no schema inference beyond `auto`'s simple rules.
//!
//! Formats (the full reference is `docs/formats.md` at the workspace root):
//! - `ml100k`: MovieLens 100K `u.data`/`u.item`/`u.user`, Latin-1. Ratings become `rating`
//!   events (seconds × 1000); an item's tags are its set genres and its category the first set
//!   genre in `u.genre` order (the `unknown` genre counts as none); release date → `created_at`.
//! - `movielens-csv`: `ratings.csv` and `movies.csv`; genres as above in file order; the
//!   title's `(1995)` → `created_at` = January 1st of that year.
//! - `csv`: a header is required; columns by name in any order through one alias table
//!   (`rating` = `value`, `event` = `type`, `timestamp` = seconds or RFC 3339, `timestamp_ms`
//!   = ms, ...); unknown columns are an error naming them. Without a `type` column every row is
//!   a `rating` (the protocol CSV). An empty cell is an absent value.
//! - `jsonl`: one object per line with the same names; nested objects and arrays.
//! - `parquet`: the event schema [`event_schema`] that [`export_events`] writes, partitioned
//!   as `date=YYYY-MM-DD/part-NNNNN.parquet`.
//!
//! Imports write through an [`ImportSink`]: the local store here, or another destination the
//! caller implements (the `recd` binary's running-server sink).
//!
//! Errors name `file:line[:column]: field `x`: reason` ([`RowError`]).

mod columnar;
mod error;
mod export;
mod fields;
mod format;
mod import;
mod lake;
mod read;
mod records;
mod shown;
mod sink;
mod time;
mod write;

pub use columnar::event_schema;
pub use error::{IoError, RowError};
pub use export::{
    ExportOptions, ExportReport, export_events, export_impressions, export_partitions,
};
pub use fields::RecordKind;
pub use format::{Format, detect, resolve};
pub use import::{
    ImportOptions, ImportReport, MAX_REPORTED_BAD_ROWS, import_events, import_items, import_users,
};
pub use lake::{SINK_STATE, SinkRound, SinkState, sink_round};
pub use read::{Records, read_events, read_items, read_users};
pub use recd_store::{EXPORT_MANIFEST, ExportManifest};
pub use shown::impression_schema;
pub use sink::ImportSink;
pub use time::{format_ms, parse_time_bound};
pub use write::{
    CsvEventWriter, CsvItemWriter, CsvUserWriter, EVENT_HEADER, ITEM_HEADER, USER_HEADER,
};

/// A progress callback: (work done, total work), in bytes for imports and log records for
/// exports. Called from the importing thread between batches, never per record.
pub type ProgressFn = std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>;
