//! Integration tests of the updater: real store on a temp dir, real redis-server.

mod foldin;
mod restart;
mod support;
mod tombstone;
