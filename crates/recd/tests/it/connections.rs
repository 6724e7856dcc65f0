//! Connection hygiene: idle and half-sent connections are closed within the configured
//! timeouts while the server keeps answering, a trickled body gets 408, and the connection cap
//! holds with a log line.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::util::{Server, arg};

/// A server with short timeouts (and optionally a connection cap) on an empty data dir.
fn server(dir: &std::path::Path, extra: &str) -> Server {
    let config = dir.join("recd.toml");
    std::fs::write(
        &config,
        format!("[serve]\nheader_read_timeout_ms = 1000\nidle_timeout_secs = 2\nbody_timeout_ms = 1000\n{extra}"),
    )
    .unwrap();
    Server::start(&dir.join("data"), &["--config", arg(&config)])
}

/// Whether the server closed `stream` (EOF or reset) within `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // A timeout answer (408) may come first; the close follows.
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn two_thousand_idle_and_half_sent_connections_are_closed_and_healthz_answers_throughout() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), "");
    let started = Instant::now();
    let mut idle = Vec::new();
    let mut half = Vec::new();
    for k in 0..2000 {
        let mut s = TcpStream::connect(&server.addr).unwrap();
        if k % 2 == 1 {
            write!(s, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
            half.push(s);
        } else {
            idle.push(s);
        }
        if k % 500 == 0 {
            assert_eq!(server.get("/healthz").0, 200, "after {k} connections");
        }
    }
    assert_eq!(server.get("/healthz").0, 200);
    // Every one is closed by the header timeout (1 s) or the idle timeout (2 s), counted from
    // when it was opened; allow for two cores busy with the other tests.
    let deadline = started + Duration::from_secs(20);
    for (what, conns) in [("idle", &mut idle), ("half-sent", &mut half)] {
        for s in conns.iter_mut() {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(10));
            assert!(
                closed_within(s, left),
                "a {what} connection was still open after 20 s"
            );
        }
    }
    assert_eq!(server.get("/healthz").0, 200);
    server.stop();
}

#[test]
fn a_keep_alive_connection_that_goes_quiet_is_closed_and_a_trickled_body_gets_408() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), "");
    // One answered request, then silence: closed by the idle timeout.
    let mut s = TcpStream::connect(&server.addr).unwrap();
    write!(s, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut first = [0u8; 12];
    s.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    assert!(closed_within(&mut s, Duration::from_secs(15)));

    // A body promised in full but sent in part: 408 with the JSON error body.
    let mut s = TcpStream::connect(&server.addr).unwrap();
    write!(
        s,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"user_id\""
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("\"body_timeout\""), "{response}");
    server.stop();
}

#[test]
fn at_the_connection_cap_new_connections_wait_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), "max_connections = 4\n");
    // Four silent connections take every permit...
    let held: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // ...so a fifth waits in the backlog until the idle timeout frees them, then is served.
    let started = Instant::now();
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "answered after {:?}: the cap did not hold",
        started.elapsed()
    );
    drop(held);
    server.stop();
}

#[test]
fn an_announced_body_over_the_limit_is_refused_before_it_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let server = server(tmp.path(), "max_body_bytes = 1000\n");
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\nExpect: 100-continue\r\n\r\n"
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = stream
        .read(&mut buf)
        .expect("an answer without sending the body");
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
}
