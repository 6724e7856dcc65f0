//! One handle over a single Redis server or a Redis Cluster, connected lazily.
//!
//! Lazy on purpose: `recd serve` must start (and serve from its cache, then recover) while
//! Redis is down, so no constructor here waits for a connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, Value};

use crate::{FeatureError, RedisConfig};

/// A cheap-to-clone connection to Redis.
#[derive(Clone)]
pub(crate) enum Conn {
    /// One server; the manager reconnects by itself after a failure.
    Single(ConnectionManager),
    /// A cluster; the connection follows slot moves and reconnects by itself once made.
    Cluster(Arc<ClusterHandle>),
}

/// The cluster client and its current connection. The connection is remade after a failure
/// (at most once per [`REMAKE_AFTER`]): the async cluster connection repairs itself after a
/// master dies only as long as it can refresh its slot map, and a refresh that keeps asking
/// the dead node never recovers, while a new connection reads the map afresh from the
/// configured nodes and finds the promoted replica.
pub(crate) struct ClusterHandle {
    client: ClusterClient,
    conn: std::sync::RwLock<Option<(ClusterConnection, Instant)>>,
}

/// How old a cluster connection must be before a failure remakes it.
const REMAKE_AFTER: Duration = Duration::from_secs(1);

impl Conn {
    /// Parses `redis://host:port[/db]` or `redis+cluster://host1:port1,host2:port2`.
    pub(crate) fn open(url: &str, config: &RedisConfig) -> Result<Self, FeatureError> {
        let connect = Duration::from_millis(config.connect_timeout_ms);
        let response = Duration::from_millis(config.response_timeout_ms);
        if let Some(nodes) = url.strip_prefix("redis+cluster://") {
            let nodes: Vec<String> = nodes
                .split(',')
                .filter(|n| !n.trim().is_empty())
                .map(|n| format!("redis://{}", n.trim()))
                .collect();
            if nodes.is_empty() {
                return Err(FeatureError::Config(format!(
                    "{url:?} names no cluster node"
                )));
            }
            let client = ClusterClient::builder(nodes)
                .connection_timeout(connect)
                .response_timeout(response)
                .retries(1)
                .build()
                .map_err(|e| FeatureError::Config(format!("{url:?}: {e}")))?;
            return Ok(Conn::Cluster(Arc::new(ClusterHandle {
                client,
                conn: std::sync::RwLock::new(None),
            })));
        }
        if !url.starts_with("redis://") {
            return Err(FeatureError::Config(format!(
                "{url:?} is not a redis://host:port or redis+cluster://host:port,... URL"
            )));
        }
        let client =
            redis::Client::open(url).map_err(|e| FeatureError::Config(format!("{url:?}: {e}")))?;
        // One quick retry only: a caller that fails falls back (reads to the cache, the
        // updater to its log offset) instead of waiting out a long backoff.
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(connect))
            .set_response_timeout(Some(response))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let manager = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|e| FeatureError::Config(format!("{url:?}: {e}")))?;
        Ok(Conn::Single(manager))
    }

    /// Runs one command.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, FeatureError> {
        let started = Instant::now();
        let res = self.query_once(cmd).await;
        crate::telemetry::redis_round_trip("query", started, res.is_ok());
        res
    }

    async fn query_once<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, FeatureError> {
        match self {
            Conn::Single(m) => cmd.query_async(&mut m.clone()).await.map_err(unavailable),
            Conn::Cluster(h) => {
                let res = cmd.query_async(&mut h.connection().await?).await;
                if res.is_err() {
                    h.failed();
                }
                res.map_err(unavailable)
            }
        }
    }

    /// Runs commands with one round trip per node, returning their replies in order.
    ///
    /// On one server this is a pipeline. A cluster connection routes a whole pipeline to one
    /// node, but our keys are spread over slots, so there each command is sent on its own and
    /// the multiplexed connection overlaps them.
    pub(crate) async fn run_all(&self, cmds: Vec<Cmd>) -> Result<Vec<Value>, FeatureError> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        let started = Instant::now();
        let res = self.run_all_once(cmds).await;
        crate::telemetry::redis_round_trip("pipeline", started, res.is_ok());
        res
    }

    async fn run_all_once(&self, cmds: Vec<Cmd>) -> Result<Vec<Value>, FeatureError> {
        match self {
            Conn::Single(m) => {
                let mut pipe = Pipeline::with_capacity(cmds.len());
                for cmd in cmds {
                    pipe.add_command(cmd);
                }
                pipe.query_async(&mut m.clone()).await.map_err(unavailable)
            }
            Conn::Cluster(h) => {
                let conn = h.connection().await?;
                let mut tasks = tokio::task::JoinSet::new();
                for (i, cmd) in cmds.into_iter().enumerate() {
                    let mut conn = conn.clone();
                    tasks.spawn(async move { (i, cmd.query_async::<Value>(&mut conn).await) });
                }
                let mut out = vec![Value::Nil; tasks.len()];
                while let Some(joined) = tasks.join_next().await {
                    let (i, res) = joined
                        .map_err(|e| FeatureError::Unavailable(format!("redis task: {e}")))?;
                    out[i] = res.map_err(|e| {
                        h.failed();
                        unavailable(e)
                    })?;
                }
                Ok(out)
            }
        }
    }
}

impl ClusterHandle {
    async fn connection(&self) -> Result<ClusterConnection, FeatureError> {
        if let Some((conn, _)) = self.conn.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Ok(conn.clone());
        }
        let conn = self
            .client
            .get_async_connection()
            .await
            .map_err(unavailable)?;
        let mut slot = self.conn.write().unwrap_or_else(|p| p.into_inner());
        // Another task may have made one meanwhile: keep one connection for everybody.
        let (conn, _) = slot.get_or_insert((conn, Instant::now()));
        Ok(conn.clone())
    }

    /// A command failed: drop the connection if it is old enough, so the next command
    /// makes a new one with a fresh slot map.
    fn failed(&self) {
        let mut slot = self.conn.write().unwrap_or_else(|p| p.into_inner());
        if slot
            .as_ref()
            .is_some_and(|(_, made)| made.elapsed() >= REMAKE_AFTER)
        {
            *slot = None;
        }
    }
}

fn unavailable(e: redis::RedisError) -> FeatureError {
    FeatureError::Unavailable(format!("redis: {e}"))
}
