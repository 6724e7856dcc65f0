//! Redis Streams as the event bus: one stream per partition, appended by a group-commit
//! writer thread, read through one [`PartitionLog`] per partition.
//!
//! An append is one `EVAL` per partition it touches (the script `XADD`s the group's records
//! of that partition, so they land together and in order), then, with `wait_replicas`, one
//! `WAIT`. Only then are the callers answered: a caller is told its records' positions once
//! Redis made them durable, or an error, never both. Appends queued while a group is in
//! flight go together in the next one (one round trip per partition for all of them), as the
//! file log shares one fsync.
//!
//! A record is carried as the fields `s` (the record schema it was written under) and `r`
//! (its bytes; [`recd_store::codec`]), so it is decoded by the same decoder per schema as the
//! file log.

pub(crate) mod conn;
mod durable;
pub(crate) mod lease;
mod partition;
mod writer;

use std::sync::Mutex;
use std::sync::mpsc;
use std::thread::JoinHandle;

use recd_types::Record;
use tokio::sync::oneshot;

pub use lease::Leases;
pub use partition::PartitionLog;

use self::conn::{Client, Lazy};
use self::writer::Request;
use crate::pending::Inner;
use crate::{BusConfig, BusError, BusPartition, EventBus, PendingPositions};

/// The bus on Redis Streams. See the module docs.
pub struct RedisStreams {
    config: BusConfig,
    client: Client,
    tx: Mutex<Option<mpsc::Sender<Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    probe: Mutex<Lazy>,
}

impl RedisStreams {
    /// The bus that `config.events` names. Connects lazily: an unreachable Redis is reported
    /// by the first append (so a server can start, and answer from caches, while Redis is
    /// down); the server's durability settings are checked on each new connection.
    pub fn open(config: BusConfig) -> Result<Self, BusError> {
        config.validate().map_err(BusError::Config)?;
        let client = Client::open(&config)?;
        let (tx, rx) = mpsc::channel();
        let writer = {
            let client = client.clone();
            let config = config.clone();
            std::thread::Builder::new()
                .name("recd-bus-writer".into())
                .spawn(move || writer::run(rx, Lazy::new(client, config.clone()), config))
                .map_err(|e| BusError::Config(format!("cannot start the bus writer: {e}")))?
        };
        Ok(Self {
            probe: Mutex::new(Lazy::new(client.clone(), config.clone())),
            config,
            client,
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// A read view of partition `p` (a connection of its own).
    pub fn partition(&self, p: u32) -> PartitionLog {
        PartitionLog::new(
            Lazy::new(self.client.clone(), self.config.clone()),
            self.config.stream_key(p),
            p,
        )
    }
}

impl EventBus for RedisStreams {
    fn config(&self) -> &BusConfig {
        &self.config
    }

    fn append(&self, records: &[Record]) -> PendingPositions {
        self.append_to(records, |r| self.partition_of(r))
    }

    fn append_catalog(&self, records: &[Record]) -> PendingPositions {
        self.append_to(records, |_| self.config.catalog_partition())
    }

    fn catalog_reader(&self) -> Result<Box<dyn BusPartition>, BusError> {
        Ok(Box::new(self.partition(self.config.catalog_partition())))
    }

    fn reader(&self, p: u32) -> Result<Box<dyn BusPartition>, BusError> {
        Ok(Box::new(self.partition(p)))
    }

    /// Whether Redis answers and its settings make appends durable.
    fn check(&self) -> Result<(), BusError> {
        let mut probe = self.probe.lock().unwrap_or_else(|p| p.into_inner());
        durable::check(&mut probe, &self.config, self.client.is_cluster())
    }
}

impl RedisStreams {
    /// Queues `records` for the writer, each to the partition `place` gives it.
    fn append_to(&self, records: &[Record], place: impl Fn(&Record) -> u32) -> PendingPositions {
        let mut parts = Vec::with_capacity(records.len());
        for record in records {
            match recd_store::codec::encode_record(record) {
                Ok(bytes) => parts.push((place(record), bytes)),
                Err(recd_store::StoreError::Invalid(v)) => {
                    return PendingPositions::ready(Err(BusError::Invalid(v)));
                }
                Err(e) => {
                    return PendingPositions::ready(Err(BusError::Unavailable(e.to_string())));
                }
            }
        }
        if parts.is_empty() {
            return PendingPositions::ready(Ok(Vec::new()));
        }
        let (reply, rx) = oneshot::channel();
        let sent = self
            .tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|tx| tx.send(Request { parts, reply }));
        match sent {
            Some(Ok(())) => PendingPositions(Inner::Waiting(rx)),
            _ => PendingPositions::ready(Err(BusError::Closed)),
        }
    }
}

impl Drop for RedisStreams {
    /// Lets the writer finish the appends already queued, then stops it.
    fn drop(&mut self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = h.join();
        }
    }
}
