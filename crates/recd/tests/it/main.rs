//! The `recd` binary's one integration-test binary: end-to-end tests of its subcommands.

mod auth;
mod bench;
mod bots;
mod compact;
mod config;
mod connections;
mod deletion;
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
mod serve;
mod train;
mod util;
