//! The `recd` binary's one integration-test binary: end-to-end tests of its subcommands.

mod auth;
mod bench;
mod bots;
mod config;
mod connections;
mod dashboard;
mod deletion;
mod experiments;
mod export;
mod r#gen;
mod idempotency;
mod import;
mod import_server;
mod jobs;
mod live;
mod logs;
mod memory;
mod metrics;
mod models;
mod protocol;
mod readiness;
mod recommend_http;
mod replay;
mod serve;
mod train;
mod util;
