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
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(persistence)
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
