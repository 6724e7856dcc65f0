//! The `recd` binary's one integration-test binary: end-to-end tests of its subcommands.

mod bench;
mod export;
mod r#gen;
mod import;
mod protocol;
mod recommend_http;
mod serve;
mod train;
mod util;
