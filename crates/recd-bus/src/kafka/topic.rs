//! The bus's topic: found with the configured partitions, or made with them.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::RDKafkaErrorCode;

use super::client_config;
use super::logs::Logs;
use crate::{BusConfig, BusError};

/// Makes sure `topic` exists with `partitions` partitions (`bus.partitions` for the events):
/// creates it when missing (another process creating it at the same time is fine), refuses
/// one with another number (users would be read from the wrong partition).
pub(super) fn ensure(
    brokers: &str,
    topic: &str,
    partitions: u32,
    config: &BusConfig,
) -> Result<(), BusError> {
    let timeout = Duration::from_millis(config.response_timeout_ms.max(1));
    let admin: AdminClient<Logs> = client_config(brokers, config)
        .create_with_context(Logs)
        .map_err(|e| BusError::Config(format!("bus.events = {:?}: {e}", config.events)))?;
    if let Some(n) = partition_count(&admin, topic, timeout)? {
        return matches(n, topic, partitions, config);
    }
    let new = NewTopic::new(
        topic,
        partitions as i32,
        TopicReplication::Fixed(i32::from(config.kafka_replication)),
    );
    let options = AdminOptions::new().operation_timeout(Some(timeout));
    let created = block_on(admin.create_topics([&new], &options))?
        .map_err(|e| BusError::Unavailable(format!("creating Kafka topic {topic:?}: {e}")))?;
    for result in created {
        match result {
            Ok(_) => tracing::info!(
                topic,
                partitions,
                replication = config.kafka_replication,
                "Kafka topic created"
            ),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => {
                return Err(BusError::Config(format!(
                    "cannot create Kafka topic {topic:?} with {partitions} partitions and \
                     replication {} (bus.partitions, bus.kafka_replication): {code}",
                    config.kafka_replication
                )));
            }
        }
    }
    match partition_count(&admin, topic, timeout)? {
        Some(n) => matches(n, topic, partitions, config),
        None => Err(BusError::Unavailable(format!(
            "Kafka topic {topic:?} was created but is not in the metadata yet"
        ))),
    }
}

/// The topic's partition count, `None` when it does not exist.
fn partition_count(
    admin: &AdminClient<Logs>,
    topic: &str,
    timeout: Duration,
) -> Result<Option<usize>, BusError> {
    let metadata = admin
        .inner()
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| BusError::Unavailable(format!("Kafka metadata: {e}")))?;
    Ok(metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
        .map(|t| t.partitions().len()))
}

fn matches(n: usize, topic: &str, partitions: u32, config: &BusConfig) -> Result<(), BusError> {
    if n == partitions as usize {
        Ok(())
    } else if partitions != config.partitions {
        Err(BusError::Config(format!(
            "Kafka topic {topic:?} has {n} partitions; recd's catalog channel needs \
             exactly {partitions}"
        )))
    } else {
        Err(BusError::Config(format!(
            "Kafka topic {topic:?} has {n} partitions but bus.partitions = {}: every process \
             must place users the same way; set bus.partitions = {n} or use another topic",
            config.partitions
        )))
    }
}

/// Runs an admin future to completion on a thread of its own (the admin client's futures
/// need no particular runtime, and the caller may be inside one).
fn block_on<F: std::future::Future + Send>(f: F) -> Result<F::Output, BusError>
where
    F::Output: Send,
{
    let failed = |why: String| BusError::Unavailable(format!("Kafka admin request: {why}"));
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .map(|rt| rt.block_on(f))
                .map_err(|e| failed(e.to_string()))
        })
        .join()
        .map_err(|_| failed("its thread panicked".into()))?
    })
}
