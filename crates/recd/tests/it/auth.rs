//! API keys, scopes, rate limits and CORS with the real binary: `recd keys` writes the keys
//! file, `recd serve` enforces it (and re-reads it when a key is revoked), and refuses a public
//! address without keys unless `--insecure`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{Server, arg, recd_ok, small_data};

/// Paths that answer without a key: the probes, the metrics (unless protected), the API document and the two pages (the
/// dashboard page holds no data; what it reads needs the admin scope).
const OPEN: [&str; 7] = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/dashboard",
    "/",
];

pub(crate) fn create_key(data: &std::path::Path, name: &str, scope: &str) -> String {
    let out = recd_ok(&[
        "keys",
        "create",
        "--data-dir",
        arg(data),
        "--scope",
        scope,
        "--name",
        name,
    ]);
    let key = out.trim().to_string();
    assert!(key.starts_with("recd_"), "{out}");
    key
}

fn call(server: &Server, method: &str, path: &str, body: &str, key: &str) -> (u16, Value) {
    let auth = format!("Bearer {key}");
    let (status, _, body) = server.request_with(method, path, body, &[("Authorization", &auth)]);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn keys_scopes_limits_revocation_and_cors() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    small_data(&data, false);
    let reader = create_key(&data, "web", "read");
    let bursty = create_key(&data, "bursty", "read");
    let ingest = create_key(&data, "collector", "ingest");
    let admin = create_key(&data, "ops", "admin");
    let listed = recd_ok(&["keys", "list", "--data-dir", arg(&data)]);
    assert!(
        listed.contains("web\tread") && listed.contains("ops\tadmin"),
        "{listed}"
    );
    assert!(!listed.contains(&reader), "keys are never shown again");

    let server = Server::spawn(
        &["serve", "--data-dir", arg(&data), "--listen", "127.0.0.1:0"],
        &[
            ("RECD__SERVE__RATE_LIMIT__READ_PER_SEC", "20"),
            (
                "RECD__SERVE__CORS__ALLOW_ORIGINS",
                r#"["https://shop.example"]"#,
            ),
        ],
    );

    // Without a key, every operation of the API document but the open ones is a 401 with the
    // JSON error body.
    let (status, doc) = server.get("/openapi.json");
    assert_eq!(status, 200);
    let mut refused = 0;
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        if OPEN.contains(&path.as_str()) {
            continue;
        }
        let concrete = path.replace("{id}", "x").replace("{job_id}", "1");
        for method in ops.as_object().expect("operations").keys() {
            let method = method.to_ascii_uppercase();
            let (status, body) = server.request(&method, &concrete, "{}");
            assert_eq!(status, 401, "{method} {path} without a key: {body}");
            assert_eq!(body["error"]["code"], "unauthorized", "{body}");
            refused += 1;
        }
    }
    assert!(refused >= 15, "only {refused} operations checked");
    for path in OPEN {
        assert_eq!(server.request_text("GET", path, "").0, 200, "{path}");
    }

    // A read key reads and cannot write; an ingest key ingests; admin does everything.
    let event = r#"{"user_id":"u1","item_id":"i1","type":"view"}"#;
    let item = r#"{"title":"A new film","tags":["new"]}"#;
    assert_eq!(
        call(
            &server,
            "GET",
            "/v1/recommendations?user_id=u1",
            "",
            &reader
        )
        .0,
        200
    );
    assert_eq!(call(&server, "GET", "/v1/trending", "", &reader).0, 200);
    for (method, path, body) in [
        ("POST", "/v1/events", event),
        ("PUT", "/v1/items/new-film", item),
        ("DELETE", "/v1/items/new-film", ""),
        ("GET", "/v1/users/u1/features", ""),
        ("GET", "/v1/admin/jobs", ""),
    ] {
        let (status, body) = call(&server, method, path, body, &reader);
        assert_eq!(status, 403, "{method} {path} with a read key: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("scope"),
            "{body}"
        );
    }
    assert_eq!(call(&server, "POST", "/v1/events", event, &ingest).0, 202);
    assert_eq!(call(&server, "GET", "/v1/trending", "", &ingest).0, 403);
    let (status, body) = call(&server, "PUT", "/v1/items/new-film", item, &admin);
    assert!(status == 200 || status == 201, "{status} {body}");
    let (status, _, _) = server.request_with(
        "GET",
        "/v1/admin/models",
        "",
        &[("X-API-Key", admin.as_str())],
    );
    assert_eq!(status, 200, "X-API-Key works as well as Bearer");
    assert_eq!(
        call(&server, "GET", "/v1/trending", "", "recd_not_a_key").0,
        401
    );

    // Over the read limit (20/s per key): 429 with Retry-After and the JSON body, for that key
    // only.
    let mut limited = None;
    for _ in 0..200 {
        let auth = format!("Bearer {bursty}");
        let (status, head, body) =
            server.request_with("GET", "/v1/trending", "", &[("Authorization", &auth)]);
        if status == 429 {
            limited = Some((head, body));
            break;
        }
        assert_eq!(status, 200, "{body}");
    }
    let (head, body) = limited.expect("the read limit was never reached in 200 requests");
    assert!(head.contains("\r\nretry-after: "), "{head}");
    let body: Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(call(&server, "GET", "/v1/trending", "", &reader).0, 200);

    // CORS: a preflight from an allowed origin is answered; another origin gets no grant.
    let preflight = |origin: &str| {
        server
            .request_with(
                "OPTIONS",
                "/v1/recommendations",
                "",
                &[("Origin", origin), ("Access-Control-Request-Method", "GET")],
            )
            .1
    };
    let head = preflight("https://shop.example");
    assert!(
        head.contains("access-control-allow-origin: https://shop.example"),
        "{head}"
    );
    assert!(!preflight("https://evil.example").contains("access-control-allow-origin"));

    // Revoking a key: the running server stops accepting it within seconds.
    recd_ok(&["keys", "revoke", "--data-dir", arg(&data), "web"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while call(&server, "GET", "/v1/trending", "", &reader).0 != 401 {
        assert!(
            Instant::now() < deadline,
            "the revoked key still works after 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(call(&server, "GET", "/v1/trending", "", &admin).0, 200);
    let metrics = server.get_text("/metrics");
    assert!(
        metrics.contains("recd_auth_refused_total{reason=\"scope\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("recd_rate_limited_total{limit=\"read\"}"));
    server.stop();
}

#[test]
fn a_public_address_needs_keys_or_insecure() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_recd"))
        .args(["serve", "--data-dir", arg(&data), "--listen", "0.0.0.0:0"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("recd serve starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("recd serve on 0.0.0.0 without keys did not refuse to start");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    assert!(!status.success());
    assert!(
        stderr.contains("without API keys") && stderr.contains("--insecure"),
        "{stderr}"
    );

    let server = Server::spawn(
        &[
            "serve",
            "--data-dir",
            arg(&data),
            "--listen",
            "0.0.0.0:0",
            "--insecure",
        ],
        &[],
    );
    assert_eq!(server.get("/healthz").0, 200);
    server.stop();
}

/// A throwaway self-signed certificate for localhost and 127.0.0.1: (cert, key).
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-keyout", arg(&key), "-out", arg(&cert)])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs (.ci/run installs it)");
    assert!(status.success());
    (cert, key)
}

#[test]
fn tls_is_terminated_by_recd_when_configured() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let (cert, key) = self_signed(tmp.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_recd"))
        .args(["serve", "--data-dir", arg(&data), "--listen", "127.0.0.1:0"])
        .env("RECD__SERVE__TLS__CERT_FILE", &cert)
        .env("RECD__SERVE__TLS__KEY_FILE", &key)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("recd serve starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the listening line");
    let addr = line
        .trim()
        .strip_prefix("listening on https://")
        .unwrap_or_else(|| panic!("not https: {line:?}"))
        .to_string();
    let curl = |extra: &[&str]| {
        std::process::Command::new("curl")
            .args(["-sS", "--max-time", "5", "--cacert", arg(&cert)])
            .args(extra)
            .output()
            .expect("curl runs (.ci/run installs it)")
    };
    let url = format!("https://{addr}/healthz");
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let out = curl(&[&url]);
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).to_string();
        }
        assert!(Instant::now() < deadline, "no TLS answer: {out:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(body.contains("ok") || body.contains("status"), "{body}");
    // The certificate is checked: a client that does not trust it is refused.
    let untrusted = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "5", &url])
        .output()
        .expect("curl runs");
    assert!(!untrusted.status.success());
    // Plain HTTP on the TLS port gets no HTTP answer, and the server goes on.
    let plain = curl(&[&format!("http://{addr}/healthz")]);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("\"status\""));
    assert!(curl(&[&url]).status.success());
    let _ = child.kill();
    let _ = child.wait();

    // Half a configuration is an error that names the key.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_recd"))
        .args(["serve", "--data-dir", arg(&data), "--listen", "127.0.0.1:0"])
        .env("RECD__SERVE__TLS__CERT_FILE", &cert)
        .output()
        .expect("recd runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("serve.tls"), "{stderr}");
}
