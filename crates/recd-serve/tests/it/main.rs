//! HTTP tests of recd-serve: the real Router over a real store in a temp dir.

mod admin;
mod catalog;
mod http;
mod idempotency;
mod input;
mod invariants;
mod openapi;
mod support;
