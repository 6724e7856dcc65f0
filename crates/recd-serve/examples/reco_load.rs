//! Load generator for `GET /v1/recommendations` (bench/serve_load.sh runs it).
//!
//! Two modes:
//! - `rate R`: open loop. Request k is due at `start + k / R` whatever happened before, and its
//!   latency counts from that due time, so a stalled server shows up as latency instead of
//!   silently lowering the offered rate (coordinated omission). Requests are released by an OS
//!   thread sleeping to each due time: tokio's timer has 1 ms granularity, which sent requests
//!   up to 1 ms late, two at a time at 2,000 req/s, and counted that delay as server latency.
//! - `saturate C`: closed loop with C requests in flight for the duration; prints the QPS.
//!
//! One async thread: the load generator shares the 2 cores with the server, and with tokio's
//! default two it used more CPU per request than on one (user + system time, runs against
//! the same server), CPU taken from the server it measures.
//!
//! Users are drawn from `1..=users` (known to an ml-100k model; a generated one names them
//! `u0`, `u1`, ...: set `USER_PREFIX=u`) with a share of unknown ids (cold start). Answers
//! marked `"fallback":true` (deadline missed) and `"degraded":true` (ranked by the light
//! ranker because the server was behind) are counted.
//!
//! Usage: `reco_load URL rate|saturate R_OR_C SECONDS USERS UNKNOWN_SHARE`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

struct Outcome {
    latency_us: Vec<u64>,
    errors: u64,
    fallbacks: u64,
    degraded: u64,
}

/// What a 200 answer was marked with.
struct Answered {
    fallback: bool,
    degraded: bool,
}

/// `USER_PREFIX` from the environment, read once.
fn prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| std::env::var("USER_PREFIX").unwrap_or_default())
}

fn user(k: u64, users: u64, unknown_share: f64) -> String {
    let h = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (k >> 7);
    if (h % 10_000) as f64 / 10_000.0 < unknown_share {
        format!("cold{}", h % 1_000_000)
    } else {
        format!("{}{}", prefix(), h % users + 1)
    }
}

/// One request; its marks on a 200.
async fn one(client: &HttpClient, url: &str, user: &str) -> Result<Answered, String> {
    let uri = format!("{url}/v1/recommendations?user_id={user}&num_results=20&context=homepage");
    let resp = client
        .get(uri.parse().map_err(|e| format!("{e}"))?)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if status != 200 {
        return Err(format!("status {status}"));
    }
    let has = |mark: &[u8]| body.windows(mark.len()).any(|w| w == mark);
    Ok(Answered {
        fallback: has(b"\"fallback\":true"),
        degraded: has(b"\"degraded\":true"),
    })
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let k = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[k] as f64 / 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: reco_load URL rate|saturate R_OR_C SECONDS USERS UNKNOWN_SHARE");
        std::process::exit(2);
    }
    let url = args[1].trim_end_matches('/').to_string();
    let mode = args[2].clone();
    let param: f64 = args[3].parse().expect("R_OR_C is a number");
    let seconds: f64 = args[4].parse().expect("SECONDS is a number");
    let users: u64 = args[5].parse().expect("USERS is a number");
    let unknown: f64 = args[6].parse().expect("UNKNOWN_SHARE is a number");
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .build(connector);
    let started = Instant::now();
    let outcome = match mode.as_str() {
        "rate" => rate(client, url, param, seconds, users, unknown).await,
        "saturate" => saturate(client, url, param as usize, seconds, users, unknown).await,
        other => panic!("unknown mode {other:?}"),
    };
    let wall = started.elapsed().as_secs_f64();
    let mut lat = outcome.latency_us;
    lat.sort_unstable();
    let n = lat.len() as u64 + outcome.errors;
    println!(
        "{{\"mode\":\"{mode}\",\"param\":{param},\"requests\":{n},\"ok\":{},\"errors\":{},\"fallbacks\":{},\"degraded\":{},\"qps\":{:.0},\"p50_ms\":{:.2},\"p90_ms\":{:.2},\"p99_ms\":{:.2},\"p999_ms\":{:.2},\"max_ms\":{:.2}}}",
        lat.len(),
        outcome.errors,
        outcome.fallbacks,
        outcome.degraded,
        lat.len() as f64 / wall,
        percentile(&lat, 0.5),
        percentile(&lat, 0.9),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999),
        percentile(&lat, 1.0),
    );
}

async fn rate(
    client: HttpClient,
    url: String,
    rate: f64,
    seconds: f64,
    users: u64,
    unknown: f64,
) -> Outcome {
    let total = (rate * seconds) as u64;
    let runtime = tokio::runtime::Handle::current();
    let url = Arc::new(url);
    let pacer = std::thread::spawn(move || {
        let start = Instant::now() + Duration::from_millis(50);
        let mut tasks = Vec::with_capacity(total as usize);
        for k in 0..total {
            let due = start + Duration::from_secs_f64(k as f64 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let (client, url) = (client.clone(), url.clone());
            tasks.push(runtime.spawn(async move {
                let r = one(&client, &url, &user(k, users, unknown)).await;
                (due.elapsed().as_micros() as u64, r)
            }));
        }
        tasks
    });
    let tasks = tokio::task::spawn_blocking(move || pacer.join().expect("pacer thread"))
        .await
        .expect("pacer join");
    collect(tasks).await
}

async fn saturate(
    client: HttpClient,
    url: String,
    concurrency: usize,
    seconds: f64,
    users: u64,
    unknown: f64,
) -> Outcome {
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let counter = Arc::new(AtomicU64::new(0));
    let url = Arc::new(url);
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, url, counter) = (client.clone(), url.clone(), counter.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            while Instant::now() < end {
                let k = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let r = one(&client, &url, &user(k, users, unknown)).await;
                out.push((t.elapsed().as_micros() as u64, r));
            }
            out
        }));
    }
    let mut res = Outcome {
        latency_us: Vec::new(),
        errors: 0,
        fallbacks: 0,
        degraded: 0,
    };
    for w in workers {
        for (us, r) in w.await.expect("worker") {
            tally(&mut res, us, r);
        }
    }
    res
}

fn tally(res: &mut Outcome, us: u64, r: Result<Answered, String>) {
    match r {
        Ok(a) => {
            res.latency_us.push(us);
            res.fallbacks += u64::from(a.fallback);
            res.degraded += u64::from(a.degraded);
        }
        Err(e) => {
            if res.errors < 5 {
                eprintln!("request failed: {e}");
            }
            res.errors += 1;
        }
    }
}

async fn collect(tasks: Vec<tokio::task::JoinHandle<(u64, Result<Answered, String>)>>) -> Outcome {
    let mut res = Outcome {
        latency_us: Vec::new(),
        errors: 0,
        fallbacks: 0,
        degraded: 0,
    };
    for t in tasks {
        let (us, r) = t.await.expect("request task");
        tally(&mut res, us, r);
    }
    res
}
