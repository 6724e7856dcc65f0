//! recd's HTTP wire shapes: every JSON body the server reads or writes is defined here.
//!
//! Job: be the one place where the JSON contract lives, so a change to the wire is a change
//! to this crate and shows up in review. Non-goals: no validation beyond JSON types (the
//! engine's `recd-types` owns the domain rules), no conversion to engine types (done at the
//! HTTP edge in `recd-serve`, so this crate depends on nothing internal), no IO.
//!
//! Conventions: field names are `snake_case`; times are integer milliseconds since the Unix
//! epoch; optional request fields may be left out or sent as `null`; unknown request fields
//! are refused (a typo should be an error, not silently ignored).
//!
//! Every type derives `utoipa::ToSchema`: the OpenAPI document that `recd-serve` assembles
//! takes its schemas from these definitions and their doc comments, so the published contract
//! cannot drift from the serde shapes. (`utoipa` is a compile-time dependency only: derive
//! macros and plain data, no HTTP.)

mod error;
mod events;
mod experiments;
mod features;
mod health;
mod items;
mod jobs;
mod log;
mod models;
mod recommendations;
mod users;

pub use error::{ErrorBody, ErrorDetail};
pub use events::{ContextIn, EventIn, EventType, EventsAccepted, EventsIn, PositionOut};
pub use experiments::{
    ComparisonOut, ExperimentIn, ExperimentOut, ExperimentReportOut, ExperimentsOut,
    GuardrailStopOut, VariantIn, VariantReportOut,
};
pub use features::{
    CategoryCountOut, ItemFeaturesOut, NegativeItemOut, QueryOut, SessionOut, TrendingItemOut,
    TrendingOut, UserFeaturesOut, UserVectorOut, ViewOut,
};
pub use health::{DependencyOut, HealthOut};
pub use items::{ItemIn, ItemOut, ItemsPage};
pub use jobs::{GateOut, JobOut, JobsOut, TrainOutcomeOut};
pub use log::{CompactedSegmentOut, LogCompactIn, LogCompactOut, LogNameIn};
pub use models::{
    ModelRole, ModelVersionOut, ModelsOut, RolloutActiveOut, RolloutOut, RolloutStepOut,
};
pub use recommendations::{RecommendationsOut, RecommendedItemOut, SimilarItemOut, SimilarOut};
pub use users::{UserIn, UserLookupOut, UserOut};
