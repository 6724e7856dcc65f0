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
