//! The model store in S3 end to end, against a local S3 server (`moto_server`, named by
//! `RECD_MOTO`, else found on PATH; skipped with a message when missing, except under
//! `CI=true`, where a missing server fails): `recd train` publishes to a bucket, a server
//! with no local models serves that version, a promotion reaches it, and a store that goes
//! down leaves it serving and reported. And a directory store (a shared volume) that a
//! trainer and a server on other data dirs both point at, read in place without a copy.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Server, arg, small_data};

/// A `moto_server` on a free loopback port, killed on drop.
pub(crate) struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    /// Starts the server, or `None` (after saying why) when it is not installed here.
    pub(crate) fn start() -> Option<Self> {
        let program = std::env::var("RECD_MOTO").unwrap_or_else(|_| "moto_server".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let spawned = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("CI=true and the S3 test server {program:?} does not start: {e}")
            }
            Err(e) => {
                eprintln!(
                    "skipped: the S3 test server {program:?} does not start ({e}); set RECD_MOTO"
                );
                return None;
            }
        };
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http(&moto.endpoint, "GET", "/").is_none() {
            assert!(Instant::now() < deadline, "moto_server not up within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(moto)
    }

    /// Creates `bucket`.
    pub(crate) fn bucket(&self, bucket: &str) {
        let status = http(&self.endpoint, "PUT", &format!("/{bucket}"));
        assert_eq!(status, Some(200), "creating bucket {bucket}");
    }

    /// The environment of a recd process that uses `s3://bucket/fleet` on this server.
    pub(crate) fn env(&self, bucket: &str) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("RECD__MODELS__STORE", &format!("s3://{bucket}/fleet")),
            ("RECD__MODELS__POLL_MS", "100"),
            ("RECD__MODELS__REQUEST_TIMEOUT_MS", "2000"),
            ("RECD__SERVE__RECOMMEND__MODEL_POLL_MS", "50"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request without a body; the status, or `None` when nothing answers.
fn http(endpoint: &str, method: &str, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let addr = endpoint.strip_prefix("http://")?;
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.get(9..12)?.parse().ok()
}

/// `recd ARGS` with `env`; stdout, after checking it succeeded.
pub(crate) fn recd_env(args: &[&str], env: &[(String, String)]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_recd"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "warn")
        .output()
        .expect("recd runs");
    assert!(
        output.status.success(),
        "recd {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// Trains on `data` with `env` (and `extra` flags); the new version and stdout.
fn train(data: &Path, extra: &[&str], env: &[(String, String)]) -> (String, String) {
    let mut args = vec!["train", "--data-dir", arg(data)];
    args.extend_from_slice(extra);
    let out = recd_env(&args, env);
    let version = out
        .lines()
        .find_map(|l| l.strip_prefix("model "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the version trained")
        .to_string();
    (version, out)
}

fn serve(data: &Path, env: &[(String, String)]) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::spawn(
        &["serve", "--data-dir", arg(data), "--listen", "127.0.0.1:0"],
        &env,
    )
}

fn served_version(server: &Server) -> String {
    let (status, body) = server.get("/v1/recommendations?user_id=u1&num_results=5");
    assert_eq!(status, 200, "{body}");
    body["model_version"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The `model_store` entry of `/readyz` (strict or not) and the status.
fn readiness(server: &Server, strict: bool) -> (u16, serde_json::Value) {
    let path = if strict {
        "/readyz?strict=true"
    } else {
        "/readyz"
    };
    let (status, body) = server.get(path);
    (status, body["dependencies"]["model_store"].clone())
}

/// A trainer and a server on data dirs of their own (the same generated events), sharing
/// only the bucket.
fn two_machines(tmp: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (trainer, server) = (tmp.join("trainer"), tmp.join("server"));
    small_data(&trainer, false);
    small_data(&server, false);
    (trainer, server)
}

#[test]
fn servers_serve_what_training_publishes_to_s3_and_swap_on_promotion() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("recd-models");
    let env = moto.env("recd-models");
    let tmp = tempfile::tempdir().unwrap();
    let (trainer, server_dir) = two_machines(tmp.path());

    let (first, out) = train(&trainer, &[], &env);
    assert!(
        out.contains(&format!(
            "model {first} published to s3://recd-models/fleet as CURRENT"
        )),
        "{out}"
    );
    assert!(
        !server_dir.join("models").exists(),
        "the server starts with no model of its own"
    );
    let server = serve(&server_dir, &env);
    assert_eq!(served_version(&server), first);
    assert!(
        server_dir
            .join("models")
            .join(&first)
            .join("manifest.json")
            .is_file()
    );
    let (status, store) = readiness(&server, true);
    assert_eq!(status, 200, "{store}");
    assert_eq!(store["up"], true, "{store}");
    assert_eq!(store["detail"], "s3://recd-models/fleet", "{store}");

    // A second version waits as the candidate: the server keeps CURRENT.
    let (second, out) = train(
        &trainer,
        &["--force"],
        &[
            env.clone(),
            vec![("RECD__TRAIN__ROLLOUT".into(), "candidate".into())],
        ]
        .concat(),
    );
    assert!(out.contains("as the CANDIDATE"), "{out}");
    let list = recd_env(&["models", "list", "--data-dir", arg(&trainer)], &env);
    assert!(
        list.lines()
            .any(|l| l.starts_with("* ") && l.contains(&first)),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("+ ") && l.contains(&second)),
        "{list}"
    );
    for _ in 0..10 {
        assert_eq!(served_version(&server), first);
        std::thread::sleep(Duration::from_millis(50));
    }

    // Promoted from any machine (here an empty data dir): the server swaps to it.
    let operator = tmp.path().join("operator");
    std::fs::create_dir_all(&operator).unwrap();
    let promoted = Instant::now();
    let out = recd_env(&["models", "promote", "--data-dir", arg(&operator)], &env);
    assert!(out.contains(&second), "{out}");
    server.wait_until(
        || served_version(&server) == second,
        "serving the promoted model",
    );
    eprintln!(
        "promote to swap: {} ms (models.poll_ms 100, model_poll_ms 50)",
        promoted.elapsed().as_millis()
    );
    let (_, admin) = server.get("/v1/admin/models");
    assert_eq!(admin["current"], second.as_str(), "{admin}");
    server.stop();

    // Retention in the store: two more candidates, the first of which is replaced by the
    // second; gc keeps the newest one and what the registry protects (current, rollback
    // target, candidate), and deletes the replaced candidate's objects.
    let candidate = [
        env.clone(),
        vec![("RECD__TRAIN__ROLLOUT".into(), "candidate".into())],
    ]
    .concat();
    let (third, _) = train(&trainer, &["--force"], &candidate);
    let (fourth, _) = train(&trainer, &["--force"], &candidate);
    let out = recd_env(
        &["models", "gc", "--data-dir", arg(&operator), "--keep", "1"],
        &env,
    );
    assert!(out.contains(&format!("deleted {third}")), "{out}");
    assert!(
        out.contains("1 versions deleted from s3://recd-models/fleet"),
        "{out}"
    );
    let list = recd_env(&["models", "list", "--data-dir", arg(&operator)], &env);
    assert!(!list.contains(&third), "{list}");
    for kept in [&first, &second, &fourth] {
        assert!(list.contains(kept.as_str()), "{kept} in {list}");
    }
}

#[test]
fn a_store_that_goes_down_leaves_the_server_serving_and_reported() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("recd-models");
    let env = moto.env("recd-models");
    let tmp = tempfile::tempdir().unwrap();
    let (trainer, server_dir) = two_machines(tmp.path());
    let (first, _) = train(&trainer, &[], &env);
    let server = serve(&server_dir, &env);
    assert_eq!(served_version(&server), first);

    drop(moto);
    server.wait_until(
        || readiness(&server, false).1["up"] == false,
        "the store reported down",
    );
    let (status, store) = readiness(&server, false);
    assert_eq!(
        status, 200,
        "a shared dependency is not this instance's fault: {store}"
    );
    assert!(
        store["error"]
            .as_str()
            .is_some_and(|e| e.contains("s3://recd-models/fleet")),
        "{store}"
    );
    assert_eq!(
        readiness(&server, true).0,
        503,
        "strict readiness counts the store"
    );
    assert_eq!(
        served_version(&server),
        first,
        "the model in memory keeps serving"
    );
    let metrics = server.get_text("/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"recd_dependency_up{dependency="model_store"} 0"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("recd_model_store_errors_total"),
        "{metrics}"
    );

    // A training cannot publish to a store that is down, and says where it failed.
    let output = Command::new(env!("CARGO_BIN_EXE_recd"))
        .args(["train", "--data-dir", arg(&trainer)])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("s3://recd-models/fleet"), "{err}");
    server.stop();
}

#[test]
fn a_bad_store_value_names_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_recd"))
        .args(["models", "list", "--data-dir", arg(tmp.path())])
        .env("RECD__MODELS__STORE", "gs://bucket/models")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("models.store") && err.contains("unknown scheme"),
        "{err}"
    );
}

#[test]
fn a_shared_directory_store_serves_what_another_data_dir_trained() {
    let tmp = tempfile::tempdir().unwrap();
    let (trainer, server_dir) = two_machines(tmp.path());
    let shared = tmp.path().join("shared-models");
    let env = vec![
        (
            "RECD__MODELS__STORE".to_string(),
            shared.display().to_string(),
        ),
        (
            "RECD__SERVE__RECOMMEND__MODEL_POLL_MS".to_string(),
            "50".to_string(),
        ),
    ];
    let (first, out) = train(&trainer, &[], &env);
    assert!(
        !out.contains("published to"),
        "a directory is not uploaded to: {out}"
    );
    assert!(shared.join(&first).join("manifest.json").is_file());
    assert!(!trainer.join("models").exists() && !trainer.join("models-train").exists());
    let server = serve(&server_dir, &env);
    assert_eq!(served_version(&server), first);
    let (_, ready) = server.get("/readyz");
    assert!(
        ready["dependencies"].get("model_store").is_none(),
        "{ready}"
    );
    let (second, _) = train(&trainer, &["--force"], &env);
    server.wait_until(
        || served_version(&server) == second,
        "serving the new model",
    );
    assert!(
        !server_dir.join("models").exists(),
        "no copy of a directory store"
    );
    server.stop();
}
