//! Blocking connections to a Redis server or cluster, made lazily and remade after a failure.
//!
//! Blocking on purpose: the bus's writer is one thread doing group commit (as the file log's
//! is) and partition reads run on the updater's blocking reader, so the crate needs no async
//! runtime and callers await appends through a runtime-free one-shot channel.

use std::time::Duration;

use redis::ConnectionLike;
use redis::cluster::{ClusterClient, ClusterConnection};

use crate::{BusConfig, BusError};

/// Where to connect.
#[derive(Clone)]
pub(crate) enum Client {
    Single(redis::Client),
    Cluster(Box<ClusterClient>),
}

impl Client {
    /// The Redis of `bus.events`.
    pub(crate) fn open(config: &BusConfig) -> Result<Self, BusError> {
        Self::open_url(&config.events, "bus.events", config)
    }

    /// Parses `redis://host:port[/db]` or `redis+cluster://host1:port1,host2:port2`; errors
    /// name the setting `key` it came from.
    pub(crate) fn open_url(url: &str, key: &str, config: &BusConfig) -> Result<Self, BusError> {
        let connect = Duration::from_millis(config.connect_timeout_ms.max(1));
        let response = Duration::from_millis(config.response_timeout_ms.max(1));
        if let Some(nodes) = url.strip_prefix("redis+cluster://") {
            let nodes: Vec<String> = nodes
                .split(',')
                .filter(|n| !n.trim().is_empty())
                .map(|n| format!("redis://{}", n.trim()))
                .collect();
            if nodes.is_empty() {
                return Err(BusError::Config(format!(
                    "{key} = {url:?} names no cluster node"
                )));
            }
            let client = ClusterClient::builder(nodes)
                .connection_timeout(connect)
                .response_timeout(response)
                .build()
                .map_err(|e| BusError::Config(format!("{key} = {url:?}: {e}")))?;
            return Ok(Client::Cluster(Box::new(client)));
        }
        if !url.starts_with("redis://") {
            return Err(BusError::Config(format!(
                "{key} = {url:?}: expected redis://host:port or redis+cluster://host:port,..."
            )));
        }
        let client = redis::Client::open(url)
            .map_err(|e| BusError::Config(format!("{key} = {url:?}: {e}")))?;
        Ok(Client::Single(client))
    }

    fn connect(&self, config: &BusConfig) -> redis::RedisResult<Conn> {
        let connect = Duration::from_millis(config.connect_timeout_ms.max(1));
        let response = Duration::from_millis(config.response_timeout_ms.max(1));
        match self {
            Client::Single(c) => {
                let conn = c.get_connection_with_timeout(connect)?;
                conn.set_read_timeout(Some(response))?;
                conn.set_write_timeout(Some(response))?;
                Ok(Conn::Single(conn))
            }
            Client::Cluster(c) => Ok(Conn::Cluster(Box::new(c.get_connection()?))),
        }
    }

    /// Whether this is a cluster (WAIT and server settings are per node there).
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Client::Cluster(_))
    }
}

enum Conn {
    Single(redis::Connection),
    Cluster(Box<ClusterConnection>),
}

/// A connection made on first use and dropped after a failure, so the next call reconnects
/// (a failed call is not retried here: an append must not be sent twice).
pub(crate) struct Lazy {
    client: Client,
    config: BusConfig,
    conn: Option<Conn>,
}

impl Lazy {
    pub(crate) fn new(client: Client, config: BusConfig) -> Self {
        Self {
            client,
            config,
            conn: None,
        }
    }

    /// Runs `f` on the connection; an error is [`BusError::Unavailable`].
    pub(crate) fn with<T>(
        &mut self,
        f: impl FnOnce(&mut dyn ConnectionLike) -> redis::RedisResult<T>,
    ) -> Result<T, BusError> {
        if self.conn.is_none() {
            self.conn = Some(self.client.connect(&self.config).map_err(unavailable)?);
        }
        let conn: &mut dyn ConnectionLike = match self.conn.as_mut() {
            Some(Conn::Single(c)) => c,
            Some(Conn::Cluster(c)) => c.as_mut(),
            None => unreachable!("connected above"),
        };
        let res = f(conn);
        if res.is_err() {
            // Whatever failed, the next call starts from a new connection: on a cluster that
            // also means a new slot map, which is how a failover's new master is found.
            self.conn = None;
        }
        res.map_err(unavailable)
    }
}

impl Lazy {
    /// `WAIT replicas timeout_ms` on the connection that wrote `key`: on a cluster, the
    /// master of the key's slot (WAIT counts the replicas that have this connection's writes,
    /// so it must go where the write went). Returns how many replicas acknowledged.
    pub(crate) fn wait_for_replicas(
        &mut self,
        key: &str,
        replicas: u32,
        timeout_ms: u64,
    ) -> Result<u32, BusError> {
        use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr};
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas).arg(timeout_ms);
        match self.conn.as_mut() {
            Some(Conn::Cluster(c)) => {
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                    Route::with_slot(Slot::for_key(key), SlotAddr::Master),
                ));
                let res = c
                    .route_command(&wait, route)
                    .and_then(|v| redis::from_redis_value(v).map_err(Into::into));
                if res.is_err() {
                    self.conn = None;
                }
                res.map_err(unavailable)
            }
            _ => self.with(|c| wait.query(c)),
        }
    }
}

fn unavailable(e: redis::RedisError) -> BusError {
    BusError::Unavailable(e.to_string())
}
