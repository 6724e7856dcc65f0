//! Helpers shared by the end-to-end tests: run the real binary, find the shared datasets.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the real `recd` binary with `args`, quiet logs, and returns its output.
pub fn recd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recd"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the recd binary runs")
}

/// Runs `recd` and fails the test with its stderr unless it exits 0; returns stdout.
pub fn recd_ok(args: &[&str]) -> String {
    let output = recd(args);
    assert!(
        output.status.success(),
        "recd {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

/// Runs `recd`, expects a non-zero exit, and returns stderr.
pub fn recd_err(args: &[&str]) -> String {
    let output = recd(args);
    assert!(
        !output.status.success(),
        "recd {args:?} should have failed; stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).expect("stderr is UTF-8")
}

/// `../shared` beside the workspace (where CI clones it).
pub fn shared_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")).to_path_buf()
}

/// The MovieLens 100K files.
pub fn ml100k(file: &str) -> PathBuf {
    let path = shared_dir().join("datasets/ml-100k").join(file);
    assert!(path.is_file(), "missing dataset file {}", path.display());
    path
}

/// A path as the `&str` the command line wants.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// A running `recd serve` on a free loopback port, killed on drop if the test did not stop it.
pub struct Server {
    child: std::process::Child,
    /// `host:port` it listens on.
    pub addr: String,
}

impl Server {
    /// Starts `recd serve --data-dir DIR --listen 127.0.0.1:0 EXTRA..` and waits for /readyz.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let mut args = vec![
            "serve",
            "--data-dir",
            arg(data_dir),
            "--listen",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        Self::spawn(&args, &[])
    }

    /// Starts `recd ARGS` (a serving command) with `envs` added to its environment, reads the
    /// address from its first line and waits for /readyz.
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_recd"))
            .args(args)
            .envs(envs.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("recd serve starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let server = Self { child, addr };
        server.wait_until(|| server.get("/readyz").0 == 200, "ready");
        server
    }

    /// One HTTP/1.1 request on a fresh connection; returns status and JSON body.
    pub fn request(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.request_text(method, path, body);
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// [`Server::request`] with the body as text.
    pub fn request_text(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.addr).expect("connect");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .expect("send the request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read response");
        let status = response
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status, body.to_string())
    }

    /// `GET path`, the body as text (e.g. /metrics).
    pub fn get_text(&self, path: &str) -> String {
        let (status, body) = self.request_text("GET", path, "");
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.request("GET", path, "")
    }

    /// Polls `ok` every 20 ms for up to 60 s (tests share two cores with training runs).
    pub fn wait_until(&self, mut ok: impl FnMut() -> bool, what: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "not {what} within 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status must be success (graceful shutdown).
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let exit = self.child.wait().expect("wait for recd serve");
        assert!(exit.success(), "recd serve exited with {exit}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
