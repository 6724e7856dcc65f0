//! The `recd` binary's one integration-test binary: end-to-end tests of its subcommands.

mod r#gen;
