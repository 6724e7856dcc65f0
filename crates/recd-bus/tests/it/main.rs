//! The buses against real servers started by the tests on loopback: redis-server for Redis
//! Streams, a Kafka-protocol broker (Tansu) for Kafka.

mod kafka;
mod redis_streams;
