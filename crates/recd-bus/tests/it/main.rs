//! The Redis Streams bus against a real redis-server (started by the tests on loopback).

mod redis_streams;
