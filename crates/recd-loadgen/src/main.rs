//! `recd-loadgen`: drives a running `recd serve` over HTTP and prints what it measured.
//!
//! Three measurements (bench/ingest.sh runs them against the embedded and the Redis feature
//! store and records the output):
//! - `ingest`: POST /v1/events with batches of N events from C connections; durable events/s
//!   (a 202 means the batch is fsync'd) and request latency percentiles.
//! - `latency`: one event per request, one connection; latency percentiles.
//! - `freshness`: time from the 202 of a view of a new user to that item showing first in
//!   `GET /v1/users/{id}/features`, polled back to back on the same connection (of the same
//!   server, or with `--read-url` of another API process of a scaled deployment).
//!
//! Our own small tool rather than wrk: freshness needs a request that depends on the answer
//! of the previous one, and every figure should come from one place. Bounded by request
//! counts: it stops by itself.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Load generator for recd's HTTP API.
#[derive(Debug, Parser)]
struct Args {
    /// Base URL of the server, e.g. http://127.0.0.1:7878.
    #[arg(long)]
    url: String,
    /// Tag prefixed to user ids, so runs against the same server do not mix.
    #[arg(long, default_value = "lg")]
    tag: String,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Durable ingest throughput with batched POSTs.
    Ingest {
        /// Events per request.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Requests in total.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        /// Distinct users the events are spread over.
        #[arg(long, default_value_t = 10_000)]
        users: usize,
        /// Give every event a unique `event_id`, as a client that retries safely does (the
        /// server then checks each against its dedupe window).
        #[arg(long)]
        event_ids: bool,
    },
    /// Latency of single-event POSTs, one at a time.
    Latency {
        /// Requests in total.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
    },
    /// Time from a view's 202 to the item showing in the user's features.
    Freshness {
        /// Views measured (each for a new user).
        #[arg(long, default_value_t = 1000)]
        samples: usize,
        /// Read the features from this server instead of the one the view was posted to
        /// (another API process of a scaled deployment).
        #[arg(long)]
        read_url: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let url = args.url.trim_end_matches('/').to_string();
    match args.mode {
        Mode::Ingest {
            batch,
            concurrency,
            requests,
            users,
            event_ids,
        } => {
            let load = IngestLoad {
                batch,
                concurrency,
                requests,
                users,
                event_ids,
            };
            ingest(&client, &url, &args.tag, &load).await
        }
        Mode::Latency { requests } => latency(&client, &url, &args.tag, requests).await,
        Mode::Freshness { samples, read_url } => {
            let read_url =
                read_url.map_or_else(|| url.clone(), |u| u.trim_end_matches('/').to_string());
            freshness(&client, &url, &read_url, &args.tag, samples).await
        }
    }
}

/// Sends one request; returns the status and the body.
async fn send(
    client: &HttpClient,
    method: Method,
    uri: &str,
    body: String,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let response = client
        .request(request)
        .await
        .with_context(|| format!("request to {uri}"))?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, bytes))
}

async fn post_events(client: &HttpClient, url: &str, body: String) -> anyhow::Result<()> {
    let (status, bytes) = send(client, Method::POST, &format!("{url}/v1/events"), body).await?;
    if status != StatusCode::ACCEPTED {
        bail!(
            "POST /v1/events answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    Ok(())
}

fn event(tag: &str, user: usize, item: usize, kind: &str) -> String {
    format!(r#"{{"user_id":"{tag}-u{user}","item_id":"i{item}","type":"{kind}"}}"#)
}

/// The shape of an ingest run.
struct IngestLoad {
    batch: usize,
    concurrency: usize,
    requests: usize,
    users: usize,
    event_ids: bool,
}

async fn ingest(
    client: &HttpClient,
    url: &str,
    tag: &str,
    load: &IngestLoad,
) -> anyhow::Result<()> {
    let &IngestLoad {
        batch,
        concurrency,
        requests,
        users,
        event_ids,
    } = load;
    const KINDS: [&str; 4] = ["view", "view", "click", "add_to_cart"];
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..concurrency.max(1) {
        let (client, url, tag) = (client.clone(), url.to_string(), tag.to_string());
        let share =
            requests / concurrency.max(1) + usize::from(worker < requests % concurrency.max(1));
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for r in 0..share {
                let base = (worker * 7919 + r * batch) % users.max(1);
                let lines: Vec<String> = (0..batch)
                    .map(|e| {
                        let line = event(
                            &tag,
                            (base + e) % users.max(1),
                            (base * 31 + e * 17) % 1682,
                            KINDS[e % 4],
                        );
                        if event_ids {
                            let id = format!(r#"{{"event_id":"{tag}-{worker}-{r}-{e}","#);
                            line.replacen('{', &id, 1)
                        } else {
                            line
                        }
                    })
                    .collect();
                let sent = Instant::now();
                post_events(&client, &url, lines.join("\n")).await?;
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::with_capacity(requests);
    while let Some(joined) = tasks.join_next().await {
        latencies.extend(joined??);
    }
    let seconds = started.elapsed().as_secs_f64();
    let events = latencies.len() * batch;
    let rate = events as f64 / seconds;
    let p = percentiles(&mut latencies);
    println!(
        "{}",
        serde_json::json!({
            "mode": "ingest", "batch": batch, "concurrency": concurrency, "requests": latencies.len(),
            "event_ids": event_ids,
            "events": events, "seconds": round(seconds), "events_per_sec": rate.round(),
            "request_ms": p,
        })
    );
    Ok(())
}

async fn latency(client: &HttpClient, url: &str, tag: &str, requests: usize) -> anyhow::Result<()> {
    let mut latencies = Vec::with_capacity(requests);
    for r in 0..requests {
        let body = event(tag, r % 1000, r % 1682, "view");
        let sent = Instant::now();
        post_events(client, url, body).await?;
        latencies.push(sent.elapsed());
    }
    let p = percentiles(&mut latencies);
    println!(
        "{}",
        serde_json::json!({"mode": "latency", "requests": requests, "request_ms": p})
    );
    Ok(())
}

async fn freshness(
    client: &HttpClient,
    url: &str,
    read_url: &str,
    tag: &str,
    samples: usize,
) -> anyhow::Result<()> {
    let mut lags = Vec::with_capacity(samples);
    let mut polls = 0usize;
    for s in 0..samples {
        let user = format!("{tag}-fresh{s}");
        let item = format!("f{s}");
        let body = format!(r#"{{"user_id":"{user}","item_id":"{item}","type":"view"}}"#);
        post_events(client, url, body).await?;
        let acked = Instant::now();
        let features_uri = format!("{read_url}/v1/users/{user}/features");
        let needle = format!(r#""recent_views":[{{"item_id":"{item}""#);
        loop {
            polls += 1;
            let (status, bytes) = send(client, Method::GET, &features_uri, String::new()).await?;
            if status == StatusCode::OK && memmem(&bytes, needle.as_bytes()) {
                lags.push(acked.elapsed());
                break;
            }
            if acked.elapsed() > Duration::from_secs(10) {
                bail!("view {s} did not show in the features within 10 s (last status {status})");
            }
        }
    }
    let p = percentiles(&mut lags);
    println!(
        "{}",
        serde_json::json!({"mode": "freshness", "samples": samples, "polls": polls, "lag_ms": p})
    );
    Ok(())
}

fn memmem(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// p50, p90, p99, p99.9 and max in milliseconds (nearest-rank).
fn percentiles(samples: &mut [Duration]) -> serde_json::Value {
    samples.sort();
    let at = |q: f64| {
        if samples.is_empty() {
            return 0.0;
        }
        let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
        round(samples[rank - 1].as_secs_f64() * 1000.0)
    };
    serde_json::json!({"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "p999": at(0.999), "max": at(1.0)})
}
