//! Test fixtures (feature `testing`): a real `redis-server` on a free loopback port.
//!
//! The contract suite, the updater's outage test and the end-to-end tests all run against a
//! real server, never a mock: a mock would agree with our assumptions about Redis, which is
//! what the tests are there to check.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` child process, stopped on drop: without persistence, or
/// ([`RedisServer::start_durable`]) with the append-only file synced on every write.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    durable: bool,
    /// Started as a cluster node (`cluster-enabled yes`).
    cluster: bool,
}

impl RedisServer {
    /// Starts a server on a free loopback port, or returns `None` (after saying so loudly on
    /// stderr) when the `redis-server` binary is absent and `CI` is not set. In CI a missing
    /// binary is a failure: the suite must run there.
    pub fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// [`RedisServer::start`] with `appendonly yes` and `appendfsync always` (and
    /// `maxmemory-policy noeviction`): what the event bus needs for an acknowledged append to
    /// survive a crash. [`RedisServer::stop`] then [`RedisServer::restart`] is that crash.
    pub fn start_durable() -> Option<Self> {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> Option<Self> {
        if !binary_present() {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "redis-server is not installed, and CI is set: the Redis suite must run in CI"
                );
            }
            eprintln!(
                "\n!!! SKIPPING a Redis test: redis-server is not installed \
                 (apt-get install redis-server). In CI this is a failure. !!!\n"
            );
            return None;
        }
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("recd-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create redis temp dir");
        let mut server = Self {
            port,
            dir,
            child: None,
            durable,
            cluster: false,
        };
        server.restart();
        Some(server)
    }

    /// The `redis://127.0.0.1:PORT` URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL) and waits for it to exit. Its data is gone unless it was
    /// started durable.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty, unless started durable: then with
    /// what its append-only file holds), waiting until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let persistence: &[&str] = if self.durable {
            &[
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--maxmemory-policy",
                "noeviction",
            ]
        } else {
            &["--appendonly", "no"]
        };
        let cluster: &[&str] = if self.cluster {
            &["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]
        } else {
            &[]
        };
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(persistence)
            .args(cluster)
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        self.wait_ready();
    }

    /// Deletes every key without dropping anyone's connection: data loss that clients do
    /// not notice by an error (as after a failover to an empty replica).
    pub fn flush_all(&self) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.write_all(b"FLUSHALL\r\n").expect("send FLUSHALL");
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).expect("read FLUSHALL reply");
        assert!(
            buf[..n].starts_with(b"+OK"),
            "FLUSHALL answered {:?}",
            &buf[..n]
        );
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ping(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "redis-server on port {} did not answer PING within 10 s",
            self.port
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn binary_present() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// A raw RESP `PING`, so readiness does not depend on the client under test.
fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 16];
    s.write_all(b"PING\r\n").is_ok()
        && s.read(&mut buf)
            .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
}

/// A Redis Cluster of six `redis-server`s on free loopback ports (three masters, three
/// replicas, made by `redis-cli --cluster create`), durable (`appendfsync always`), stopped
/// on drop. `None` (said on stderr) when the binaries are absent and `CI` is not set.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts the six nodes and joins them into a cluster, waiting until it is ok.
    pub fn start() -> Option<Self> {
        let mut nodes = Vec::new();
        for _ in 0..6 {
            let mut node = RedisServer::start_with(true)?;
            node.cluster = true;
            node.restart();
            nodes.push(node);
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let status = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run redis-cli --cluster create");
        assert!(status.success(), "redis-cli --cluster create failed");
        let cluster = Self { nodes };
        let deadline = Instant::now() + Duration::from_secs(30);
        // Ok, and every replica in sync with its master (a WAIT would time out before).
        let synced = |port: u16| {
            let info = Command::new("redis-cli")
                .args(["-p", &port.to_string(), "info", "replication"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            info.contains("role:master") || info.contains("master_link_status:up")
        };
        while !cluster
            .nodes
            .iter()
            .all(|n| cluster_ok(n.port) && synced(n.port))
        {
            assert!(
                Instant::now() < deadline,
                "the cluster did not become ok within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(cluster)
    }

    /// The `redis+cluster://host:port,...` URL of every node.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// The ports of the nodes.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(RedisServer::port).collect()
    }

    /// Kills (SIGKILL) a master, the first whose node serves `key`'s slot if given, and
    /// returns its port; its replica takes over after the node timeout (two seconds).
    pub fn kill_master(&mut self, key: Option<&str>) -> u16 {
        let slot_owner = key.and_then(|k| {
            let out = Command::new("redis-cli")
                .args([
                    "-p",
                    &self.nodes[0].port.to_string(),
                    "cluster",
                    "keyslot",
                    k,
                ])
                .output()
                .ok()?;
            let slot: u16 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
            self.nodes
                .iter()
                .position(|n| role(n.port).starts_with("master") && serves_slot(n.port, slot))
        });
        let i = slot_owner
            .or_else(|| {
                self.nodes
                    .iter()
                    .position(|n| role(n.port).starts_with("master"))
            })
            .expect("a master");
        let port = self.nodes[i].port;
        self.nodes[i].stop();
        port
    }

    /// Starts the node on `port` again (a killed master comes back as a replica of the node
    /// that took over).
    pub fn restart_node(&mut self, port: u16) {
        if let Some(node) = self.nodes.iter_mut().find(|n| n.port == port) {
            node.restart();
        }
    }

    /// Waits until every live node says `cluster_state:ok` (after a failover).
    pub fn wait_ok(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while !self
            .nodes
            .iter()
            .filter(|n| n.child.is_some())
            .all(|n| cluster_ok(n.port))
        {
            assert!(
                Instant::now() < deadline,
                "the cluster did not recover within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn role(port: u16) -> String {
    Command::new("redis-cli")
        .args(["-p", &port.to_string(), "role"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Whether the node on `port` serves `slot` as a master (`CLUSTER MYSHARDID` is newer than
/// Debian's 7.0, so the slot ranges are read from `CLUSTER NODES`' `myself` line).
fn serves_slot(port: u16, slot: u16) -> bool {
    let Ok(out) = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "cluster", "nodes"])
        .output()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(me) = text.lines().find(|l| l.contains("myself")) else {
        return false;
    };
    me.split_whitespace().skip(8).any(|range| {
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if a <= slot && slot <= b)
    })
}

/// Whether the node on `port` says `cluster_state:ok`.
fn cluster_ok(port: u16) -> bool {
    Command::new("redis-cli")
        .args(["-p", &port.to_string(), "cluster", "info"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
}
