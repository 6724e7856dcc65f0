//! HTTP tests of recd-serve: the real Router over a real store in a temp dir.

mod http;
mod invariants;
