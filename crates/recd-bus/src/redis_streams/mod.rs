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

mod conn;
mod durable;
mod lease;
mod partition;
mod writer;

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use recd_types::Record;
use tokio::sync::oneshot;

pub use lease::Leases;
pub use partition::PartitionLog;

use self::conn::{Client, Lazy};
use self::writer::Request;
use crate::position::{partition_of, record_key};
use crate::{BusConfig, BusError, Position};

/// The bus on Redis Streams. See the module docs.
pub struct RedisStreams {
    config: BusConfig,
    client: Client,
    tx: Mutex<Option<mpsc::Sender<Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    probe: Mutex<Lazy>,
}

/// The answer to an append: the records' positions, in the order given, once durable. Can be
/// `.await`ed on any runtime, or waited on with [`PendingPositions::wait`] outside one.
pub struct PendingPositions(Inner);

enum Inner {
    Ready(Option<Result<Vec<Position>, BusError>>),
    Waiting(oneshot::Receiver<Result<Vec<Position>, BusError>>),
}

impl PendingPositions {
    fn ready(result: Result<Vec<Position>, BusError>) -> Self {
        Self(Inner::Ready(Some(result)))
    }

    /// Blocks until the append is decided. Not for async code (it blocks the thread).
    pub fn wait(self) -> Result<Vec<Position>, BusError> {
        match self.0 {
            Inner::Ready(r) => r.unwrap_or(Err(BusError::Closed)),
            Inner::Waiting(rx) => rx.blocking_recv().unwrap_or(Err(BusError::Closed)),
        }
    }
}

impl Future for PendingPositions {
    type Output = Result<Vec<Position>, BusError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            Inner::Ready(r) => Poll::Ready(r.take().unwrap_or(Err(BusError::Closed))),
            Inner::Waiting(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(BusError::Closed))),
        }
    }
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

    /// The settings it was opened with.
    pub fn config(&self) -> &BusConfig {
        &self.config
    }

    /// Number of partitions.
    pub fn partitions(&self) -> u32 {
        self.config.partitions
    }

    /// The partition of a record.
    pub fn partition_of(&self, record: &Record) -> u32 {
        partition_of(record_key(record), self.config.partitions)
    }

    /// Appends `records`; the answer resolves once all are durable, to their positions in
    /// the order given. Records of one user keep their order. On failure nothing is
    /// acknowledged, but records of other partitions of the same call may have been written:
    /// a client retries with `event_id`s to make the retry harmless.
    pub fn append(&self, records: &[Record]) -> PendingPositions {
        let mut parts = Vec::with_capacity(records.len());
        for record in records {
            match recd_store::codec::encode_record(record) {
                Ok(bytes) => parts.push((self.partition_of(record), bytes)),
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

    /// A read view of partition `p` (a connection of its own).
    pub fn partition(&self, p: u32) -> PartitionLog {
        PartitionLog::new(
            Lazy::new(self.client.clone(), self.config.clone()),
            self.config.stream_key(p),
            p,
        )
    }

    /// The lease table of owner `owner` over this bus's partitions (a connection of its own);
    /// a lease lasts `ttl` unless renewed.
    pub fn leases(&self, owner: String, ttl: std::time::Duration) -> Leases {
        let keys = (0..self.config.partitions)
            .map(|p| format!("{}:owner", self.config.stream_key(p)))
            .collect();
        Leases::new(
            Lazy::new(self.client.clone(), self.config.clone()),
            keys,
            format!("{}:owners", self.config.prefix),
            owner,
            ttl,
        )
    }

    /// Whether Redis answers and its settings make appends durable (for readiness; blocks
    /// for up to the connect and response timeouts).
    pub fn check(&self) -> Result<(), BusError> {
        let mut probe = self.probe.lock().unwrap_or_else(|p| p.into_inner());
        durable::check(&mut probe, &self.config, self.client.is_cluster())
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
