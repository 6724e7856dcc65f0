//! Integration tests of the updater: real store on a temp dir, real redis-server.

mod eviction;
mod foldin;
mod restart;
mod support;
mod tombstone;
