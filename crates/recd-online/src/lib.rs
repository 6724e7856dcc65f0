//! recd's online engine, without transport: a request in, a ranked and explained answer out.
//!
//! Job: [`Online`] (the one entry point: [`Online::recommend`], [`Online::similar`]) owns the
//! served model slot and its hot swap ([`model_watch`]), the compute pool ([`compute`]), the
//! deadline with its degrade and fallback paths, the answer cache, cold start ([`cold`]),
//! post-processing (filters, business rules, diversity, exploration), reasons in words and
//! the slots of items added since training. The HTTP edge (`recd-serve`), `recd recommend`
//! and evaluation all call it, so the same user, state and request id get the same answer
//! whoever asks ([`Mode::Deterministic`] where answers must be reproducible). What a served
//! answer showed goes to an impression sink ([`impressions`]), and experiments are assigned
//! and changed here ([`experiments`], [`experiments::admin`]).
//!
//! Non-goals: no HTTP (no axum, hyper or wire types: the crate-graph test in `recd-serve`
//! checks it), no feature writes (features are read through [`FeatureStore`]; the updater in
//! `recd-stream` writes them), no training code.
//!
//! [`FeatureStore`]: recd_features::FeatureStore

pub mod catalog;
pub mod catalog_view;
pub mod cold;
pub mod compute;
mod engine;
mod error;
pub mod experiments;
pub mod fs;
pub mod impressions;
pub mod model_watch;
mod postprocess;
pub mod recommend;
pub mod rollout;
pub use recd_model::search;
mod similar;
mod telemetry;
#[cfg(test)]
mod test_support;

pub use catalog::{CatalogSource, LogCatalog};
pub use engine::{Mode, Online, Request, Similar, SimilarRequest};
pub use error::OnlineError;
pub use recommend::{Answer, AnswerItem, Diversity, RecommendConfig, ResultCache};
pub use telemetry::describe_metrics;
