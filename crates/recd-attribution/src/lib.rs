//! recd's online metrics: what was shown, what came of it, and whether a variant is better.
//!
//! Job: join events to the impressions they came from (by `request_id`, else by user and
//! item within a window: [`tally`]), keep per experiment variant and per user the counts an
//! A/B analysis needs, follow both logs as they grow and rebuild from them after a restart
//! ([`consumer`]), and compute the experiment report with its statistics ([`report`](mod@report), the
//! tests themselves in `recd-stats`), for one process or a whole fleet ([`fleet`]).
//!
//! Non-goals: no HTTP (the edge renders the report), no assignment of users to variants (the
//! online engine does that and writes the labels into each impression), no training.

pub mod consumer;
pub mod fleet;
pub mod report;
pub mod tally;
mod telemetry;

pub use consumer::{Attribution, AttributionConfig, Sources, start};
pub use fleet::{Snapshot, fleet_report};
pub use report::{Design, MetricComparison, Report, VariantReport, report};
pub use tally::{JoinCounts, Tally, UserTally, VariantTally};
pub use telemetry::describe_metrics;
