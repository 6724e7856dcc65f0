//! A scaled deployment on one machine: stateless `recd serve --events redis://...` API
//! processes and `recd stream` updater processes over one durable redis-server (the event
//! bus and the feature store), as docs/deploy.md describes it; and the same roles with the
//! events on Kafka (a Tansu broker) and the features on Redis.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use recd_features::testing::RedisServer;
use serde_json::{Value, json};

use crate::util::{Server, arg};

const PARTITIONS: &str = "4";
/// Tansu, the Kafka-protocol broker of the tests, holds a fetch for most of its wait even when
/// records arrive (Kafka answers at once): a short wait keeps the updaters fresh on it. The
/// Redis topologies ignore the key.
const TANSU_FETCH_WAIT_MS: &str = "5";

/// A `recd stream` process whose log lines are kept, killed (SIGKILL) on drop.
struct Stream {
    child: Child,
    owned: Arc<Mutex<Vec<u32>>>,
    /// Where it answers /metrics and /healthz (`--listen`).
    addr: String,
}

impl Stream {
    fn start_on(events: &str, redis: &str, owner: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_recd"))
            .args(["stream", "--events", events, "--feature-store", redis])
            .args(["--owner", owner, "--listen", "127.0.0.1:0"])
            .env("RECD__BUS__PARTITIONS", PARTITIONS)
            .env("RECD__BUS__KAFKA_FETCH_WAIT_MS", TANSU_FETCH_WAIT_MS)
            .env("RECD__STREAM__LEASE_MS", "1000")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("recd stream starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let owned = Arc::new(Mutex::new(Vec::new()));
        let lines = BufReader::new(child.stderr.take().expect("piped stderr"));
        let seen = owned.clone();
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                if let Some(list) = line
                    .split("owned=[")
                    .nth(1)
                    .and_then(|rest| rest.split(']').next())
                {
                    *seen.lock().unwrap() = list
                        .split(',')
                        .filter_map(|p| p.trim().parse().ok())
                        .collect();
                }
                if line.contains("ERROR") || line.contains("panicked") {
                    eprintln!("recd stream: {line}");
                }
            }
        });
        Self { child, owned, addr }
    }

    /// `GET path` on its listener: status and body.
    fn get(&self, path: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.addr).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
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

    fn owned(&self) -> Vec<u32> {
        self.owned.lock().unwrap().clone()
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn api(data: &std::path::Path, redis: &str) -> Server {
    api_on(data, redis, redis)
}

fn api_on(data: &std::path::Path, events: &str, redis: &str) -> Server {
    api_with(data, events, redis, &[])
}

/// An API process of the fleet on `events` and `redis`, with `env` added to the fleet's
/// settings.
fn api_with(data: &std::path::Path, events: &str, redis: &str, env: &[(&str, &str)]) -> Server {
    let mut all = vec![
        ("RECD__BUS__PARTITIONS", PARTITIONS),
        ("RECD__BUS__KAFKA_FETCH_WAIT_MS", TANSU_FETCH_WAIT_MS),
    ];
    all.extend_from_slice(env);
    Server::spawn(
        &[
            "serve",
            "--data-dir",
            arg(data),
            "--listen",
            "127.0.0.1:0",
            "--events",
            events,
            "--feature-store",
            redis,
        ],
        &all,
    )
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < limit, "not {what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
    started.elapsed()
}

fn viewed(server: &Server, user: &str) -> Vec<String> {
    let (status, features) = server.get(&format!("/v1/users/{user}/features"));
    if status != 200 {
        return Vec::new();
    }
    features["recent_views"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|x| x["item_id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn post_view(server: &Server, user: &str, item: &str) -> Value {
    let (status, body) = server.request(
        "POST",
        "/v1/events",
        &json!({"user_id": user, "item_id": item, "type": "view"}).to_string(),
    );
    assert_eq!(status, 202, "{body}");
    body
}

#[test]
fn api_processes_share_the_bus_and_stream_processes_share_and_take_over_partitions() {
    let Some(redis) = RedisServer::start_durable() else {
        return;
    };
    share_and_take_over("redis streams", &redis.url(), &redis.url());
}

#[test]
fn on_a_redis_cluster_api_processes_share_the_bus_and_stream_processes_take_over_partitions() {
    let Some(cluster) = recd_features::testing::RedisCluster::start() else {
        return;
    };
    share_and_take_over("redis cluster", &cluster.url(), &cluster.url());
}

#[test]
fn on_kafka_api_processes_share_the_topic_and_stream_processes_take_over_partitions() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let Some(kafka) = recd_bus::testing::KafkaBroker::start() else {
        return;
    };
    share_and_take_over("kafka", &kafka.url("user_events"), &redis.url());
}

/// Two API processes and two updaters on `events` (the bus) and `url` (the feature store):
/// an event posted to one API shows in the other's features, the updaters split the
/// partitions, a survivor takes over a killed one's, and shared counters count once.
fn share_and_take_over(bus: &str, events: &str, url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let a = api_on(&dir.path().join("a"), events, url);
    let b = api_on(&dir.path().join("b"), events, url);
    let s1 = Stream::start_on(events, url, "s1");
    let s2 = Stream::start_on(events, url, "s2");
    // The two updaters split the four partitions between them.
    wait_for(
        "partitions shared by the two updaters",
        Duration::from_secs(30),
        || {
            let (o1, o2) = (s1.owned(), s2.owned());
            o1.len() == 2 && o2.len() == 2 && o1.iter().all(|p| !o2.contains(p))
        },
    );

    // An event posted to one API process shows in the other's features.
    let mut lags = Vec::new();
    for n in 0..40 {
        let user = format!("u{n}");
        let item = format!("i{n}");
        let (to, from) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let accepted = post_view(to, &user, &item);
        let position = &accepted["positions"][0];
        assert!(position["partition"].as_u64().unwrap() < 4, "{accepted}");
        lags.push(wait_for(
            "the event visible on the other API process",
            Duration::from_secs(20),
            || viewed(from, &user).contains(&item),
        ));
    }
    lags.sort();
    // Each updater reports the partitions it applies and what it applied.
    let (status, health) = s1.get("/healthz");
    assert_eq!(status, 200, "{health}");
    let health: Value = serde_json::from_str(&health).unwrap();
    let listed: Vec<u32> = serde_json::from_value(health["partitions_owned"].clone()).unwrap();
    assert_eq!(listed, s1.owned(), "{health}");
    let (status, metrics) = s2.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("recd_stream_records_applied_total")
            && metrics.contains("recd_stream_partitions_owned 2"),
        "{metrics}"
    );
    eprintln!(
        "scaled ({bus}): event on one API process → in the other's features: p50 {:?}, max {:?} (40 events)",
        lags[lags.len() / 2],
        lags.last().unwrap()
    );

    // kill -9 one updater: the survivor takes its partitions once the lease runs out, and
    // what was posted meanwhile is applied (nothing acknowledged is lost).
    s1.kill();
    for n in 0..20 {
        post_view(&a, &format!("late{n}"), "after-kill");
    }
    wait_for(
        "the survivor owning every partition",
        Duration::from_secs(30),
        || s2.owned().len() == 4,
    );
    for n in 0..20 {
        let user = format!("late{n}");
        wait_for(
            "an event posted while an updater was dead",
            Duration::from_secs(20),
            || viewed(&b, &user).contains(&"after-kill".to_string()),
        );
    }

    // Trending counts every partition's events once, whichever updater applied them.
    for n in 0..12 {
        post_view(
            if n % 2 == 0 { &a } else { &b },
            &format!("fan{n}"),
            "hot-item",
        );
    }
    wait_for(
        "the shared item counter at 12",
        Duration::from_secs(20),
        || {
            let (status, stats) = b.get("/v1/items/hot-item/features");
            status == 200 && stats["count_1h"] == 12
        },
    );

    // The dedupe window is the fleet's: a retry that the balancer sends to the other API
    // process is a duplicate with the original position, and so is one of the same event
    // sent to both at once; each is applied once.
    let event = |id: &str, user: &str| {
        json!({"event_id": id, "user_id": user, "item_id": "retried", "type": "view"}).to_string()
    };
    let (status, first) = a.request("POST", "/v1/events", &event("retry-1", "retrier"));
    assert_eq!(status, 202, "{first}");
    let (status, retry) = b.request("POST", "/v1/events", &event("retry-1", "retrier"));
    assert_eq!(status, 202, "{retry}");
    assert_eq!(retry["duplicates"], 1, "{retry}");
    assert_eq!(retry["positions"], first["positions"], "{retry} vs {first}");
    let raced = event("race-1", "racer");
    let answers: Vec<Value> = std::thread::scope(|s| {
        let sent: Vec<_> = [&a, &b]
            .into_iter()
            .map(|server| s.spawn(|| server.request("POST", "/v1/events", &raced)))
            .collect();
        sent.into_iter()
            .map(|h| {
                let (status, body) = h.join().unwrap();
                assert_eq!(status, 202, "{body}");
                body
            })
            .collect()
    });
    let duplicates: u64 = answers
        .iter()
        .filter_map(|a| a["duplicates"].as_u64())
        .sum();
    assert_eq!(duplicates, 1, "{answers:?}");
    assert_eq!(
        answers[0]["positions"], answers[1]["positions"],
        "{answers:?}"
    );
    let retried_count = || b.get("/v1/items/retried/features").1["count_1h"].clone();
    wait_for("both events applied", Duration::from_secs(20), || {
        retried_count() == 2
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(retried_count(), 2, "a duplicate was applied");

    // The catalog is shared: an item put through one API process is in the other's catalog,
    // and the updaters count its views under its category.
    let item = json!({"title": "Lamp", "category": "lighting"}).to_string();
    let (status, body) = a.request("PUT", "/v1/items/lamp-1", &item);
    assert_eq!(status, 200, "{body}");
    wait_for(
        "an item put on one API process in the other's catalog",
        Duration::from_secs(20),
        || b.get("/v1/items/lamp-1").0 == 200,
    );
    post_view(&b, "lamp-fan", "lamp-1");
    wait_for(
        "the new item trending in its category",
        Duration::from_secs(20),
        || {
            let (_, trending) = a.get("/v1/trending?category=lighting");
            trending["items"]
                .as_array()
                .is_some_and(|items| items.iter().any(|i| i["item_id"] == "lamp-1"))
        },
    );
    // Profiles too; and a user deleted through one process is gone from both, features
    // included.
    let (status, body) = b.request("PUT", "/v1/users/u0", &json!({"country": "NL"}).to_string());
    assert_eq!(status, 200, "{body}");
    wait_for(
        "a profile put on one API process in the other's catalog",
        Duration::from_secs(20),
        || a.get("/v1/users/u0").1["country"] == "NL",
    );
    let (status, body) = a.request("DELETE", "/v1/users/u0", "");
    assert_eq!(status, 204, "{body}");
    wait_for(
        "a deleted user's profile and features gone from the other process",
        Duration::from_secs(20),
        || b.get("/v1/users/u0").0 == 404 && b.get("/v1/users/u0/features").0 == 404,
    );
    let (status, _) = b.request("DELETE", "/v1/users/never-seen", "");
    assert_eq!(status, 404);

    // Experiments are the fleet's: one PUT through A is in effect on B within its poll, and
    // both put every user in the same variant.
    let experiment = json!({
        "salt": "fleet", "status": "running",
        "variants": [{"name": "x", "share": 50}, {"name": "y", "share": 50}],
    });
    let (status, body) = a.request(
        "PUT",
        "/v1/admin/experiments/fleet-test",
        &experiment.to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let variant = |server: &Server, user: &str| {
        let (status, body) =
            server.get(&format!("/v1/recommendations?user_id={user}&num_results=3"));
        assert_eq!(status, 200, "{body}");
        body["variant"].as_str().unwrap_or_default().to_string()
    };
    let took = wait_for(
        "an experiment put on one API process running on the other",
        Duration::from_secs(10),
        || variant(&b, "fan0").starts_with("fleet-test/"),
    );
    eprintln!(
        "scaled ({bus}): an experiment put on one API process ran on the other after {took:?}"
    );
    let mut seen = std::collections::HashSet::new();
    for n in 0..20 {
        let user = format!("fan{n}");
        let on_a = variant(&a, &user);
        assert_eq!(on_a, variant(&b, &user), "{user}");
        seen.insert(on_a);
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    let (status, listed) = b.get("/v1/admin/experiments/fleet-test");
    assert_eq!(
        (status, &listed["source"]),
        (200, &json!("api")),
        "{listed}"
    );

    // A click on an answer of A, posted through B, reaches A's report over the bus.
    let (status, answer) = a.get("/v1/recommendations?user_id=clicker&num_results=3");
    assert_eq!(status, 200, "{answer}");
    let shown = answer["items"][0]["item_id"].clone();
    assert!(
        shown.is_string(),
        "an answer with items (the popular ones): {answer}"
    );
    let click = json!({
        "user_id": "clicker", "item_id": shown, "type": "click",
        "request_id": answer["request_id"],
    });
    let (status, body) = b.request("POST", "/v1/events", &click.to_string());
    assert_eq!(status, 202, "{body}");
    wait_for(
        "the click in the report of the process that answered",
        Duration::from_secs(20),
        || {
            let (_, report) = a.get("/v1/admin/experiments/fleet-test/report");
            report["variants"].as_array().is_some_and(|vs| {
                vs.iter()
                    .map(|v| v["clicks"].as_u64().unwrap_or(0))
                    .sum::<u64>()
                    == 1
            })
        },
    );
    // One report for the fleet: B's report holds what A served and A's click (B never
    // answered `clicker`), from A's published tally; A's and B's reports agree.
    let totals = |server: &Server| {
        let (_, report) = server.get("/v1/admin/experiments/fleet-test/report");
        let sum = |field: &str| {
            report["variants"].as_array().map_or(0, |vs| {
                vs.iter().map(|v| v[field].as_u64().unwrap_or(0)).sum()
            })
        };
        (sum("impressions"), sum("clicks"))
    };
    let took = wait_for(
        "one report for the fleet on both API processes",
        Duration::from_secs(20),
        || {
            let (on_a, on_b) = (totals(&a), totals(&b));
            on_b.1 == 1 && on_a == on_b
        },
    );
    let (impressions, _) = totals(&b);
    assert!(
        impressions >= 41 * 3,
        "both processes' answers: {impressions}"
    );
    eprintln!("scaled ({bus}): one report for the fleet after {took:?}");

    // The API processes report the bus among their dependencies.
    let (status, ready) = a.get("/readyz");
    assert_eq!(status, 200);
    assert_eq!(ready["dependencies"]["event_bus"]["up"], true, "{ready}");
}

#[test]
fn on_kafka_a_broker_that_is_down_gets_503_with_retry_after_never_202() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let Some(mut kafka) = recd_bus::testing::KafkaBroker::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let events = kafka.url("user_events");
    let a = Server::spawn(
        &[
            "serve",
            "--data-dir",
            arg(&dir.path().join("a")),
            "--listen",
            "127.0.0.1:0",
            "--events",
            &events,
            "--feature-store",
            &redis.url(),
        ],
        &[
            ("RECD__BUS__PARTITIONS", PARTITIONS),
            ("RECD__BUS__KAFKA_DELIVERY_TIMEOUT_MS", "1500"),
            ("RECD__BUS__KAFKA_FETCH_WAIT_MS", TANSU_FETCH_WAIT_MS),
        ],
    );
    post_view(&a, "u1", "i1");
    kafka.kill();
    let (status, head, body) = a.request_with(
        "POST",
        "/v1/events",
        &json!({"user_id": "u1", "item_id": "i2", "type": "view"}).to_string(),
        &[],
    );
    assert_eq!(status, 503, "{body}");
    assert!(head.contains("retry-after:"), "{head}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "not_durable", "{body}");
    let (status, ready) = a.get("/readyz");
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["dependencies"]["event_bus"]["up"], false, "{ready}");
    // Recommendations keep answering while the bus is down.
    let (status, recs) = a.get("/v1/recommendations?user_id=u1");
    assert_eq!(status, 200, "{recs}");
}

#[test]
fn a_bus_that_is_down_gets_503_with_retry_after_never_202() {
    let Some(mut redis) = RedisServer::start_durable() else {
        return;
    };
    let url = redis.url();
    let dir = tempfile::tempdir().unwrap();
    let a = api(&dir.path().join("a"), &url);
    post_view(&a, "u1", "i1");
    redis.stop();
    let (status, head, body) = a.request_with(
        "POST",
        "/v1/events",
        &json!({"user_id": "u1", "item_id": "i2", "type": "view"}).to_string(),
        &[],
    );
    assert_eq!(status, 503, "{body}");
    assert!(head.contains("retry-after:"), "{head}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "not_durable", "{body}");
    // The instance still answers, and says which dependency is down.
    let (status, ready) = a.get("/readyz");
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["dependencies"]["event_bus"]["up"], false, "{ready}");
    redis.restart();
    a.wait_until(
        || {
            a.request(
                "POST",
                "/v1/events",
                &json!({"user_id": "u1", "item_id": "i3", "type": "view"}).to_string(),
            )
            .0 == 202
        },
        "accepting events again",
    );
}

/// The `defaults` section of `deploy/compose/haproxy.cfg` (up to the next section), so that
/// the fleet here runs behind the balancing policy the compose file ships.
fn compose_haproxy_defaults() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/compose/haproxy.cfg"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().skip_while(|l| l.trim() != "defaults");
    let header = lines.next().expect("a defaults section");
    let body: Vec<&str> = lines
        .take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('#'))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    assert!(
        body.iter().any(|l| l.contains("retry-on conn-failure")),
        "the compose balancer retries a failed connection elsewhere: {body:?}"
    );
    format!("{header}\n{}", body.join("\n"))
}

/// `haproxy` in front of the API processes, on a free port, stopped on drop.
struct Haproxy {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    /// `None` (said on stderr) when haproxy is not installed and CI is not set.
    fn start(backends: &[&Server]) -> Option<Self> {
        let present = Command::new("haproxy")
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !present {
            assert!(
                std::env::var_os("CI").is_none(),
                "haproxy is not installed, and CI is set: the topology test must run in CI"
            );
            eprintln!("\n!!! SKIPPING the topology test: haproxy is not installed !!!\n");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "    server api{i} {} check inter 200 fall 3 rise 1\n",
                    s.addr
                )
            })
            .collect();
        // What a production balancer in front of recd does: health checks on /readyz, and a
        // request whose connection could not be made goes to another server. The timeouts and
        // retry policy are those deploy/compose.yaml ships.
        let defaults = compose_haproxy_defaults();
        let config = format!(
            "global\n    maxconn 256\n{defaults}\nfrontend api\n    bind 127.0.0.1:{port}\n    default_backend recd\nbackend recd\n    balance roundrobin\n    option httpchk GET /readyz\n{servers}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, config).unwrap();
        let child = Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy starts");
        let addr = format!("127.0.0.1:{port}");
        wait_for("haproxy listening", Duration::from_secs(10), || {
            std::net::TcpStream::connect(&addr).is_ok()
        });
        Some(Self {
            child,
            addr,
            _dir: dir,
        })
    }

    /// One request through the balancer: the status (0 when the connection failed).
    fn post(&self, body: &str) -> u16 {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(&self.addr) else {
            return 0;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "POST /v1/events HTTP/1.1\r\nHost: lb\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return 0;
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_fleet_behind_haproxy_loses_no_acknowledged_event_when_an_api_and_an_updater_are_killed() {
    let Some(redis) = RedisServer::start_durable() else {
        return;
    };
    fleet_under_kills("redis streams", &redis.url(), &redis.url());
}

/// The same topology with the bus and the features on a 6-node Redis Cluster (3 masters, 3
/// replicas): partitions, leases, shared state and features spread over the masters.
#[test]
fn on_a_redis_cluster_a_fleet_behind_haproxy_loses_no_acknowledged_event_when_an_api_and_an_updater_are_killed()
 {
    let Some(cluster) = recd_features::testing::RedisCluster::start() else {
        return;
    };
    fleet_under_kills("redis cluster", &cluster.url(), &cluster.url());
}

#[test]
fn on_kafka_a_fleet_behind_haproxy_loses_no_acknowledged_event_when_an_api_and_an_updater_are_killed()
 {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let Some(kafka) = recd_bus::testing::KafkaBroker::start() else {
        return;
    };
    fleet_under_kills("kafka", &kafka.url("user_events"), &redis.url());
}

/// Three API processes behind haproxy and two updaters, on `events` (the bus) and `url`
/// (the feature store): 600 events through the balancer, with an API process and an updater
/// killed (SIGKILL) after 200; every acknowledged event ends up in the features.
fn fleet_under_kills(bus: &str, events: &str, url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let apis: Vec<Server> = (0..3)
        .map(|i| api_on(&dir.path().join(format!("api{i}")), events, url))
        .collect();
    let Some(lb) = Haproxy::start(&apis.iter().collect::<Vec<_>>()) else {
        return;
    };
    let s1 = Stream::start_on(events, url, "s1");
    let s2 = Stream::start_on(events, url, "s2");
    wait_for("partitions shared", Duration::from_secs(30), || {
        s1.owned().len() + s2.owned().len() == 4
    });
    let mut apis = apis.into_iter();
    let (victim, a, b) = (
        apis.next().unwrap(),
        apis.next().unwrap(),
        apis.next().unwrap(),
    );
    let mut victim = Some(victim);
    let mut s1 = Some(s1);
    let mut acked = Vec::new();
    let mut failed = Vec::new();
    for n in 0..600 {
        if n == 200 {
            // kill -9 an API process and an updater under load.
            drop(victim.take());
            s1.take().unwrap().kill();
        }
        let user = format!("load{n}");
        let body = json!({"user_id": user, "item_id": format!("item{}", n % 17), "type": "view"});
        match lb.post(&body.to_string()) {
            202 => acked.push(n),
            status => failed.push((n, status)),
        }
    }
    // Only the requests in flight on the killed process may fail (the balancer retries what
    // could not connect); this client sends one at a time.
    eprintln!(
        "topology ({bus}): {} events acknowledged through haproxy, {} not: {failed:?}",
        acked.len(),
        failed.len()
    );
    assert!(failed.len() <= 2, "failed requests: {failed:?}");
    wait_for(
        "the survivor owning every partition",
        Duration::from_secs(30),
        || s2.owned().len() == 4,
    );
    for n in acked {
        let user = format!("load{n}");
        let item = format!("item{}", n % 17);
        let server = if n % 2 == 0 { &a } else { &b };
        wait_for(
            "an acknowledged event in the features",
            Duration::from_secs(20),
            || viewed(server, &user).contains(&item),
        );
    }
}

#[test]
fn a_fleet_trains_on_its_bus_under_one_lock_and_serves_the_model() {
    let Some(redis) = RedisServer::start_durable() else {
        return;
    };
    trains_on_the_bus(&redis.url(), &redis);
}

#[test]
fn on_kafka_a_fleet_trains_on_its_topic_and_serves_the_model() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let Some(kafka) = recd_bus::testing::KafkaBroker::start() else {
        return;
    };
    trains_on_the_bus(&kafka.url("user_events"), &redis);
}

/// Events and items imported through an API process live only on the bus; a training that
/// the API process starts reads them there (under the fleet's training lock: a training
/// started while another holds it is `skipped`), and the model it publishes is served.
fn trains_on_the_bus(events: &str, redis: &RedisServer) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("a");
    let a = api_on(&data, events, &redis.url());
    crate::util::small_data_through(&a, &dir.path().join("files"));
    // Nothing of it is in the API process's own log: its data dir holds only the catalog.
    let local =
        crate::util::recd_ok(&["events", "tail", "--data-dir", arg(&data), "-n", "1000000"]);
    let kinds = [
        "view",
        "click",
        "add_to_cart",
        "purchase",
        "rating",
        "like",
        "dislike",
        "skip",
    ];
    let logged_events = local
        .lines()
        .filter(|l| l.split('\t').nth(2).is_some_and(|k| kinds.contains(&k)))
        .count();
    assert_eq!(logged_events, 0, "events in the local log");
    // The bus is what a lake is exported from, for Spark.
    let lake = dir.path().join("lake");
    let exported = Command::new(env!("CARGO_BIN_EXE_recd"))
        .args(["export", "--events", events, "--out", arg(&lake)])
        .env("RECD__BUS__PARTITIONS", PARTITIONS)
        .output()
        .expect("recd export runs");
    let stdout = String::from_utf8_lossy(&exported.stdout);
    assert!(exported.status.success(), "{exported:?}");
    assert!(stdout.starts_with("exported 20000 events in "), "{stdout}");

    let train = || {
        let (status, job) = a.request("POST", "/v1/admin/train", "");
        assert_eq!(status, 202, "{job}");
        let id = job["id"].clone();
        let mut ended = Value::Null;
        wait_for("the training job to end", Duration::from_secs(240), || {
            let (_, jobs) = a.get("/v1/admin/jobs");
            ended = jobs["jobs"]
                .as_array()
                .and_then(|jobs| jobs.iter().find(|j| j["id"] == id).cloned())
                .unwrap_or(Value::Null);
            ended["state"] != "running"
        });
        ended
    };
    // Another training of the fleet holds the lock: this one is skipped, not failed.
    let lock = "recd:events:{train}:lock";
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-p", &redis.port().to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        assert!(out.status.success(), "{out:?}");
    };
    cli(&["SET", lock, "someone-else", "PX", "60000"]);
    let skipped = train();
    assert_eq!(skipped["state"], "skipped", "{skipped}");
    cli(&["DEL", lock]);

    let job = train();
    assert_eq!(job["state"], "succeeded", "{job}");
    eprintln!("trained on the bus ({events}): {job}");
    let version = job["version"].as_str().expect("a version").to_string();
    // The fleet's runs are listed by every API process, with the one that ran them; skipped
    // runs stay in the list of the process that skipped them.
    let b = api_on(&dir.path().join("b"), events, &redis.url());
    wait_for(
        "the run in the other API process's list",
        Duration::from_secs(10),
        || {
            let (_, listed) = b.get("/v1/admin/jobs");
            listed["jobs"].as_array().is_some_and(|jobs| {
                jobs.iter()
                    .any(|j| j["version"] == version.as_str() && j["instance"].is_string())
                    && !jobs.iter().any(|j| j["state"] == "skipped")
            })
        },
    );
    let (_, listed) = a.get("/v1/admin/jobs");
    assert_eq!(
        listed["jobs"].as_array().map(Vec::len),
        Some(2),
        "the run and A's skipped one: {listed}"
    );
    wait_for("the trained model served", Duration::from_secs(30), || {
        let (status, body) = a.get("/v1/recommendations?user_id=u1&num_results=5");
        status == 200 && body["model_version"] == version.as_str()
    });
}

/// The fleet's API processes count its rate limits together on its Redis: a caller gets the
/// configured limit once, whichever processes the balancer sends it to, and all of it (not
/// 1/N) when every request reaches one process.
#[test]
fn the_fleets_api_processes_count_its_rate_limits_together() {
    let Some(redis) = RedisServer::start_durable() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let start = |name: &str| {
        // 2 per second over 10-second windows: 20 requests a window per caller.
        let limits = [
            ("RECD__SERVE__RATE_LIMIT__READ_PER_SEC", "2"),
            ("RECD__SERVE__RATE_LIMIT__BURST_SECS", "10"),
        ];
        api_with(&dir.path().join(name), &url, &url, &limits)
    };
    let (a, b) = (start("a"), start("b"));
    for server in [&a, &b] {
        // `/metrics` is not a read-scope route: these polls spend nothing.
        wait_for("the fleet's counts heard", Duration::from_secs(10), || {
            let metrics = server.request_text("GET", "/metrics", "").1;
            metrics.contains("recd_rate_limit_fleet_share 0.5")
                && metrics.contains("recd_rate_limit_fleet_counts_current 1")
        });
    }
    let paced = |server: &Server, n: usize, every: Duration| {
        (0..n)
            .filter(|_| {
                std::thread::sleep(every);
                server.get("/v1/trending").0 == 200
            })
            .count()
    };
    // Every request of the caller (this test's address) reaches A: it gets the whole limit,
    // plus what the window slides by meanwhile (2 per second), not A's half of it.
    let to_a = paced(&a, 30, Duration::from_millis(25));
    assert!(
        (20..=22).contains(&to_a),
        "{to_a} of 30 through A; the fleet's limit is 20 in 10 s"
    );
    // Once A's counts are sent, B refuses the caller too: B lets through at most what it
    // sees before its own first batch tells it what the fleet did, and what the window slid.
    std::thread::sleep(Duration::from_millis(400));
    let to_b = paced(&b, 10, Duration::from_millis(50));
    assert!(
        to_b <= 4,
        "{to_b} of 10 through B after A let the caller's 20 through"
    );
    let (status, body) = b.get("/v1/trending");
    assert_eq!(status, 429, "{body}");
}

/// One API process at a time watches the fleet's experiments, from the fleet's report: here
/// each arm is served by one process only, so neither process's own tally holds both arms and
/// only the fleet's report can compare them; the watch stops the far worse arm for the fleet,
/// and both processes show the same stop.
#[test]
fn one_api_process_watches_the_fleets_experiments_from_the_fleets_report() {
    let Some(redis) = RedisServer::start_durable() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let start = |name: &str| {
        let watch = [
            ("RECD__SERVE__GUARDRAILS__CHECK_EVERY_MS", "300"),
            ("RECD__SERVE__GUARDRAILS__PLANNED_USERS", "50"),
            // The popular baseline's answers count as fallbacks: with the fallback guardrail
            // on, whichever look comes first stops it for that reason instead of its CTR.
            ("RECD__SERVE__GUARDRAILS__MAX_FALLBACK_INCREASE", "1"),
        ];
        api_with(&dir.path().join(name), &url, &url, &watch)
    };
    let (a, b) = (start("a"), start("b"));
    // Something to recommend: views the updater turns into popular items.
    let _updater = Stream::start_on(&url, &url, "s1");
    for n in 0..10 {
        post_view(&a, &format!("viewer{n}"), &format!("i{n}"));
    }
    wait_for("popular items", Duration::from_secs(20), || {
        a.get("/v1/trending").1["items"]
            .as_array()
            .is_some_and(|items| items.len() >= 5)
    });
    let experiment = json!({
        "salt": "watch", "status": "running",
        "variants": [
            {"name": "control", "share": 50},
            {"name": "pop", "share": 50, "baseline": "popular"},
        ],
    });
    let (status, body) = a.request(
        "PUT",
        "/v1/admin/experiments/watch-test",
        &experiment.to_string(),
    );
    assert_eq!(status, 200, "{body}");
    // A user's arm, from the admin look-up (which records no impression).
    let arm = |server: &Server, user: &str| {
        let (status, body) = server.get(&format!("/v1/admin/users/{user}"));
        assert_eq!(status, 200, "{body}");
        body["recommendations"]["variant"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    wait_for(
        "the experiment running on B",
        Duration::from_secs(10),
        || arm(&b, "w0").starts_with("watch-test/"),
    );
    let mut served = (0, 0);
    for n in 0..120 {
        let user = format!("w{n}");
        let (server, click) = match arm(&a, &user).as_str() {
            "watch-test/control" => (&a, n % 2 == 0),
            "watch-test/pop" => (&b, false),
            other => panic!("{user} in {other:?}"),
        };
        let (status, answer) =
            server.get(&format!("/v1/recommendations?user_id={user}&num_results=5"));
        assert_eq!(status, 200, "{answer}");
        if std::ptr::eq(server, &a) {
            served.0 += 1;
        } else {
            served.1 += 1;
        }
        if click {
            let click = json!({
                "user_id": user, "item_id": answer["items"][0]["item_id"], "type": "click",
                "request_id": answer["request_id"],
            });
            let (status, body) = server.request("POST", "/v1/events", &click.to_string());
            assert_eq!(status, 202, "{body}");
        }
    }
    assert!(
        served.0 > 30 && served.1 > 30,
        "both arms served: {served:?}"
    );
    let report = |server: &Server| {
        let (status, r) = server.get("/v1/admin/experiments/watch-test/report");
        assert_eq!(status, 200, "{r}");
        r
    };
    let took = wait_for(
        "the worse arm stopped by the fleet's watch",
        Duration::from_secs(60),
        || report(&a)["status"] == "stopped" && report(&b)["status"] == "stopped",
    );
    eprintln!("scaled: the fleet's watch stopped the experiment after {took:?}");
    let stop = report(&b)["stopped_by_guardrail"].clone();
    assert_eq!(stop["variant"], "pop", "{stop}");
    assert!(
        stop["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("CTR worse"),
        "{stop}"
    );
    // The one watch's record, on both processes (B may show it one check later).
    wait_for("the stop shown on A", Duration::from_secs(5), || {
        report(&a)["stopped_by_guardrail"] == stop
    });
}

/// `recd keys` under the fleet's settings (bus and feature store from the environment).
fn fleet_keys(url: &str, args: &[&str], extra_env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_recd"))
        .arg("keys")
        .args(args)
        .envs([
            ("RECD__BUS__EVENTS", url),
            ("RECD__FEATURES__STORE", url),
            ("RECD__BUS__PARTITIONS", PARTITIONS),
            ("RUST_LOG", "warn"),
        ])
        .envs(extra_env.iter().copied())
        .output()
        .expect("recd keys runs")
}

#[test]
fn the_fleets_api_keys_live_on_its_redis_and_a_revocation_reaches_every_api_process() {
    let Some(redis) = RedisServer::start_durable() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    // Made from an operator's machine: the data dir is only scratch, nothing is written there.
    let ops = dir.path().join("ops");
    let created = fleet_keys(
        &url,
        &[
            "create",
            "--data-dir",
            arg(&ops),
            "--scope",
            "read",
            "--name",
            "web",
        ],
        &[],
    );
    assert!(created.status.success(), "{created:?}");
    let key = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    assert!(String::from_utf8_lossy(&created.stderr).contains("the fleet's Redis"));
    assert!(!ops.join("keys.toml").exists(), "not a keys file");

    let (a, b) = (
        api(&dir.path().join("a"), &url),
        api(&dir.path().join("b"), &url),
    );
    let bearer = format!("Bearer {key}");
    let with_key = |s: &Server| {
        s.request_with("GET", "/v1/trending", "", &[("Authorization", &bearer)])
            .0
    };
    for s in [&a, &b] {
        assert_eq!(s.get("/v1/trending").0, 401, "the fleet's keys are on");
        assert_eq!(with_key(s), 200);
    }
    let listed = fleet_keys(&url, &["list", "--data-dir", arg(&ops)], &[]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.starts_with("web\tread\t") && listed.contains("the fleet's Redis"),
        "{listed}"
    );
    // Two keys of one name are refused, even from another machine.
    let again = fleet_keys(
        &url,
        &[
            "create",
            "--data-dir",
            arg(&dir.path().join("x")),
            "--scope",
            "read",
            "--name",
            "web",
        ],
        &[],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));

    let revoked = fleet_keys(&url, &["revoke", "--data-dir", arg(&ops), "web"], &[]);
    assert!(revoked.status.success(), "{revoked:?}");
    for s in [&a, &b] {
        let took = wait_for("the revocation", Duration::from_secs(10), || {
            with_key(s) == 401
        });
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    // A keys file beside a bus would split the fleet's keys: refused, naming the setting.
    let split = fleet_keys(
        &url,
        &["list", "--data-dir", arg(&ops)],
        &[("RECD__SERVE__AUTH__KEYS_FILE", "/tmp/keys.toml")],
    );
    assert!(!split.status.success());
    assert!(
        String::from_utf8_lossy(&split.stderr).contains("serve.auth.keys_file"),
        "{split:?}"
    );
}

/// Every (user, item) row of a lake's finished part files, sorted.
fn lake_rows(lake: &std::path::Path) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let Ok(days) = std::fs::read_dir(lake) else {
        return rows;
    };
    for day in days {
        let day = day.unwrap().path();
        if !day.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&day).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.starts_with("part-") || !name.ends_with(".parquet") {
                continue;
            }
            // A file a round is rewriting may vanish under us: read again later.
            let Ok(events) = recd_io::read_events(&path, recd_io::Format::Parquet) else {
                return vec![("?".into(), "?".into())];
            };
            for e in events {
                let Ok(e) = e else {
                    return vec![("?".into(), "?".into())];
                };
                rows.push((e.user_id.to_string(), e.item_id.unwrap().to_string()));
            }
        }
    }
    rows.sort();
    rows
}

fn start_sink(events: &str, redis: &str, lake: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_recd"))
        .args([
            "sink",
            "--events",
            events,
            "--feature-store",
            redis,
            "--out",
        ])
        .arg(lake)
        .args(["--every-ms", "200"])
        .env("RECD__BUS__PARTITIONS", PARTITIONS)
        .env("RECD__BUS__KAFKA_FETCH_WAIT_MS", TANSU_FETCH_WAIT_MS)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("recd sink starts")
}

/// Waits (polling every 100 ms) until the lake's rows are `want`.
fn wait_for_lake(lake: &std::path::Path, want: &[(String, String)], limit: Duration) {
    let started = Instant::now();
    loop {
        let rows = lake_rows(lake);
        if rows == want {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "the lake holds {} rows, not the {} expected, after {limit:?}",
            rows.len(),
            want.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_sink_writes_the_bus_to_the_lake_once_forgets_deleted_users_and_a_standby_takes_over() {
    let Some(redis) = RedisServer::start_durable() else {
        return;
    };
    sink_to_lake(&redis.url(), &redis.url());
}

#[test]
fn on_kafka_a_sink_writes_the_topic_to_the_lake_once_and_a_standby_takes_over() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let Some(kafka) = recd_bus::testing::KafkaBroker::start() else {
        return;
    };
    sink_to_lake(&kafka.url("user_events"), &redis.url());
}

/// The lake role on `events` (the bus), its lock on `redis`: every event once, a deletion
/// applied to files already written, a standby taking over from a killed sink.
fn sink_to_lake(events: &str, redis: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (url, lake) = (events.to_string(), dir.path().join("lake"));
    let a = api_on(&dir.path().join("a"), events, redis);
    // The fleet's updater: it makes the users known (a deletion needs that).
    let _stream = Stream::start_on(events, redis, "st");
    let mut want = Vec::new();
    let post = |user: &str, k: usize, want: &mut Vec<(String, String)>| {
        post_view(&a, user, &format!("i{k}"));
        want.push((user.to_string(), format!("i{k}")));
    };
    for k in 0..40 {
        post(&format!("s{}", k % 4), k, &mut want);
    }
    want.sort();
    let mut first = start_sink(events, redis, &lake);
    wait_for_lake(&lake, &want, Duration::from_secs(20));
    let mut standby = start_sink(events, redis, &lake);

    // s1 is deleted, then comes back as a new user.
    wait_for("s1 in the features", Duration::from_secs(20), || {
        a.get("/v1/users/s1/features").0 == 200
    });
    let (status, body) = a.request("DELETE", "/v1/users/s1", "");
    assert_eq!(status, 204, "{body}");
    want.retain(|(u, _)| u != "s1");
    for k in 100..105 {
        post("s1", k, &mut want);
        post("s0", k + 10, &mut want);
    }
    want.sort();
    wait_for_lake(&lake, &want, Duration::from_secs(20));

    // The writing sink dies mid-life: the standby takes over after the lock's lease, and
    // nothing is lost or written twice.
    first.kill().unwrap();
    first.wait().unwrap();
    for k in 200..205 {
        post("s2", k, &mut want);
    }
    want.sort();
    wait_for_lake(&lake, &want, Duration::from_secs(40));
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(lake_rows(&lake), want, "stable over more rounds");
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(lake.join("_recd_sink.json")).unwrap())
            .unwrap();
    assert_eq!(state["source"], url.as_str());
    standby.kill().unwrap();
    standby.wait().unwrap();
}
