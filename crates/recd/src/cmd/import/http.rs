//! `recd import --server URL`: an [`ImportSink`] that sends each batch to a running
//! `recd serve`, so a data dir that a server owns is written only by that server.
//!
//! Events go in `POST /v1/events` requests of at most [`MAX_EVENTS_PER_REQUEST`]; a 413 (a
//! server configured with a lower `max_events_per_request`, or a body over its
//! `max_body_bytes`) splits the request in halves until it fits. Items and users have no bulk
//! route: each is one `PUT`, [`PUT_CONCURRENCY`] in flight at once.
//!
//! Retries are bounded ([`MAX_ATTEMPTS`]): a 503 (nothing was made durable) after its
//! `Retry-After`, a 408 or 429, a connection that could not be made, and, for the idempotent
//! PUTs and for events that all carry an `event_id` (the server applies a retried id once), a
//! connection lost mid-request or a request without an answer in time. Any other POST of
//! events whose answer was lost is not retried: the server may have written it, and sending
//! it again would import those events twice, so the import stops and says so.
//!
//! hyper's client on a current-thread runtime rather than reqwest: hyper, hyper-util and
//! tokio are already compiled for the server, so this adds no crate to the build.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use recd_io::{ImportSink, IoError};
use recd_types::{Event, Item, TimestampMs, User};
use tokio::task::JoinSet;

use super::wire;

/// Most events per request: the server's default `[serve] max_events_per_request`. A server
/// configured lower answers 413 and the request is split.
pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;
/// PUTs in flight at once: enough to overlap the server's per-write sync, few enough not to
/// crowd out the server's other clients.
const PUT_CONCURRENCY: usize = 8;
/// Attempts per request, the first included.
const MAX_ATTEMPTS: u32 = 6;
/// The longest wait between attempts, whatever `Retry-After` asks for.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
/// How long one request may take, sending the body and reading the answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How much of an error body the message quotes.
const MAX_QUOTED_BYTES: usize = 2000;

/// The running server, as a destination for [`recd_io`]'s importers.
pub struct ServerSink {
    runtime: tokio::runtime::Runtime,
    server: Arc<Server>,
}

impl ServerSink {
    /// Checks `url` and that a server answers there (`GET /healthz`).
    pub fn connect(url: &str, api_key: Option<&str>) -> anyhow::Result<Self> {
        let base = url.trim_end_matches('/').to_string();
        let uri: Uri = base
            .parse()
            .with_context(|| format!("--server {url:?} is not a URL"))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            anyhow::bail!(
                "--server {url:?}: expected http://HOST:PORT (plain HTTP, as `recd serve` speaks)"
            );
        }
        let authorization = api_key
            .map(|key| {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
                    .context("--api-key has characters an HTTP header cannot carry")?;
                value.set_sensitive(true);
                anyhow::Ok(value)
            })
            .transpose()?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let server = Arc::new(Server {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base,
            authorization,
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the HTTP client's runtime")?;
        runtime
            .block_on(server.send(Method::GET, "/healthz", Bytes::new(), true))
            .map_err(|failure| anyhow::anyhow!(failure.message().to_string()))
            .with_context(|| format!("no recd server answers at {url}"))?;
        Ok(Self { runtime, server })
    }
}

impl ServerSink {
    /// One JSON request (`recd experiments`): `body` sent as JSON, the answer parsed. GETs
    /// and PUTs are retried as idempotent; an error quotes the server's answer.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let bytes = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let answer = self
            .runtime
            .block_on(self.server.send(method, path, bytes, true))
            .map_err(|failure| anyhow::anyhow!(failure.message().to_string()))?;
        serde_json::from_slice(&answer).context("the server's answer is not JSON")
    }
}

impl ImportSink for ServerSink {
    fn append_events(&self, batch: Vec<Event>) -> Result<u64, IoError> {
        let events = batch.into_iter().map(wire::event).collect();
        let result = self.runtime.block_on(self.server.post_events(events));
        result.map_err(Failure::into_io)
    }

    /// The server stamps the write with its own clock, as for any PUT; `at_ms` is unused.
    fn upsert_items(&self, batch: Vec<Item>, _at_ms: TimestampMs) -> Result<(), IoError> {
        let bodies = batch
            .into_iter()
            .map(|item| (item.id.to_string(), json(&wire::item(item))))
            .collect();
        let put = Arc::clone(&self.server).put_all("items", bodies);
        self.runtime.block_on(put).map_err(Failure::into_io)
    }

    /// As for items: the server's clock stamps the write.
    fn upsert_users(&self, batch: Vec<User>, _at_ms: TimestampMs) -> Result<(), IoError> {
        let bodies = batch
            .into_iter()
            .map(|user| (user.id.to_string(), json(&wire::user(user))))
            .collect();
        let put = Arc::clone(&self.server).put_all("users", bodies);
        self.runtime.block_on(put).map_err(Failure::into_io)
    }
}

fn json(value: &impl serde::Serialize) -> Result<Bytes, Failure> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| Failure::Failed(format!("encoding the request body: {e}")))
}

/// Why a request did not succeed; each message names the request.
#[derive(Debug)]
enum Failure {
    /// A 4xx other than 413: the server judged the records.
    Refused(String),
    /// 413: over the server's `max_body_bytes` or `max_events_per_request`.
    TooLarge(String),
    /// Anything else: the server failed, or could not be reached.
    Failed(String),
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Failure::Refused(m) | Failure::TooLarge(m) | Failure::Failed(m) => m,
        }
    }

    /// This failure, noting that `n` `what` of the batch were written before it.
    fn after(self, n: usize, what: &str) -> Failure {
        let note = format!("{n} of this batch's {what} were written, then: ");
        match self {
            Failure::Refused(m) | Failure::TooLarge(m) => Failure::Refused(note + &m),
            Failure::Failed(m) => Failure::Failed(note + &m),
        }
    }

    fn into_io(self) -> IoError {
        let refused = !matches!(self, Failure::Failed(_));
        IoError::Remote {
            refused,
            source: self.message().into(),
        }
    }
}

/// The outcome of a batch of PUTs so far.
#[derive(Default)]
struct Puts {
    n_written: usize,
    /// The first failure.
    failure: Option<Failure>,
}

impl Puts {
    fn record(&mut self, result: Result<(), Failure>) {
        match result {
            Ok(()) => self.n_written += 1,
            Err(failure) => {
                self.failure.get_or_insert(failure);
            }
        }
    }
}

/// How one attempt ended.
enum Attempt {
    /// Answered with success; the response body.
    Done(Bytes),
    /// Worth another attempt after `wait`.
    Retry {
        wait: Duration,
        why: String,
    },
    Stop(Failure),
}

struct Server {
    client: Client<HttpConnector, Full<Bytes>>,
    /// The URL without a trailing slash; request paths are appended to it.
    base: String,
    authorization: Option<HeaderValue>,
}

impl Server {
    /// Posts `events` in order, splitting a request the server finds too large.
    /// Sends the events; returns how many the server answered as duplicates (ids it had).
    async fn post_events(&self, events: Vec<recd_api::EventIn>) -> Result<u64, Failure> {
        // Chunks still to send, the next one last.
        let mut pending = vec![events];
        let mut n_sent = 0;
        let mut n_duplicates = 0;
        while let Some(mut chunk) = pending.pop() {
            let body = json(&chunk)?;
            let retry_safe = chunk.iter().all(|e| e.event_id.is_some());
            match self
                .send(Method::POST, "/v1/events", body, retry_safe)
                .await
            {
                Ok(answer) => {
                    n_sent += chunk.len();
                    // An answer without the count (an older server) counts no duplicate.
                    n_duplicates += serde_json::from_slice::<recd_api::EventsAccepted>(&answer)
                        .map_or(0, |a| a.duplicates as u64);
                }
                Err(Failure::TooLarge(_)) if chunk.len() > 1 => {
                    let second = chunk.split_off(chunk.len() / 2);
                    pending.push(second);
                    pending.push(chunk);
                }
                Err(failure) if n_sent > 0 => return Err(failure.after(n_sent, "events")),
                Err(failure) => return Err(failure),
            }
        }
        Ok(n_duplicates)
    }

    /// PUTs each `(id, body)` to `/v1/{collection}/{id}`, a few at a time. The first failure
    /// stops new requests; those in flight finish, so that the count of written records the
    /// error gives is exact.
    async fn put_all(
        self: Arc<Self>,
        collection: &'static str,
        bodies: Vec<(String, Result<Bytes, Failure>)>,
    ) -> Result<(), Failure> {
        let mut tasks = JoinSet::new();
        let mut puts = Puts::default();
        for (id, body) in last_of_each_id(bodies) {
            if tasks.len() >= PUT_CONCURRENCY {
                puts.record(join_one(&mut tasks).await);
            }
            let body = match body {
                Ok(body) => body,
                Err(failure) => {
                    puts.record(Err(failure));
                    break;
                }
            };
            if puts.failure.is_some() {
                break;
            }
            let path = format!("/v1/{collection}/{}", wire::path_segment(&id));
            let server = Arc::clone(&self);
            tasks.spawn(async move { server.send(Method::PUT, &path, body, true).await.map(drop) });
        }
        while !tasks.is_empty() {
            puts.record(join_one(&mut tasks).await);
        }
        match puts.failure {
            None => Ok(()),
            Some(failure) if puts.n_written > 0 => Err(failure.after(puts.n_written, "records")),
            Some(failure) => Err(failure),
        }
    }

    /// Sends one request, retrying as the module comment says.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
        idempotent: bool,
    ) -> Result<Bytes, Failure> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 1;
        loop {
            let outcome = self
                .once(method.clone(), &url, body.clone(), attempt, idempotent)
                .await;
            match outcome {
                Attempt::Done(body) => return Ok(body),
                Attempt::Stop(failure) => return Err(failure),
                Attempt::Retry { why, .. } if attempt >= MAX_ATTEMPTS => {
                    return Err(Failure::Failed(format!(
                        "{method} {url}: {why} (gave up after {MAX_ATTEMPTS} attempts)"
                    )));
                }
                Attempt::Retry { wait, why } => {
                    tracing::warn!(%url, attempt, wait_ms = wait.as_millis() as u64, why, "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn once(
        &self,
        method: Method,
        url: &str,
        body: Bytes,
        attempt: u32,
        idempotent: bool,
    ) -> Attempt {
        let mut request = Request::builder().method(method.clone()).uri(url);
        if !body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let request = match request.body(Full::new(body)) {
            Ok(request) => request,
            Err(e) => return Attempt::Stop(Failure::Failed(format!("{method} {url}: {e}"))),
        };
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            let retry_after = response.headers().get(RETRY_AFTER).cloned();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, Box<dyn StdError + Send + Sync>>((status, retry_after, body))
        };
        let lost = |why: String| {
            if idempotent {
                Attempt::Retry {
                    wait: backoff(attempt),
                    why,
                }
            } else {
                Attempt::Stop(Failure::Failed(format!(
                    "{method} {url}: {why}; the server may or may not have written this request, \
                     so it is not sent again (check before importing the rest)"
                )))
            }
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Err(_) => lost(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())),
            Ok(Err(e)) if is_connect(e.as_ref()) => Attempt::Retry {
                wait: backoff(attempt),
                why: error_chain(e.as_ref()),
            },
            Ok(Err(e)) => lost(error_chain(e.as_ref())),
            Ok(Ok((status, retry_after, body))) => {
                classify(&method, url, status, retry_after.as_ref(), &body, attempt)
            }
        }
    }
}

/// What an answer means for the request.
fn classify(
    method: &Method,
    url: &str,
    status: StatusCode,
    retry_after: Option<&HeaderValue>,
    body: &[u8],
    attempt: u32,
) -> Attempt {
    if status.is_success() {
        return Attempt::Done(Bytes::copy_from_slice(body));
    }
    let message = format!("{method} {url} answered {status}: {}", quote(body));
    match status {
        StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::REQUEST_TIMEOUT
        | StatusCode::TOO_MANY_REQUESTS => Attempt::Retry {
            wait: retry_after
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or_else(|| backoff(attempt), Duration::from_secs)
                .min(MAX_RETRY_WAIT),
            why: message,
        },
        StatusCode::PAYLOAD_TOO_LARGE => Attempt::Stop(Failure::TooLarge(message)),
        s if s.is_client_error() => Attempt::Stop(Failure::Refused(message)),
        _ => Attempt::Stop(Failure::Failed(message)),
    }
}

/// 0.25 s, doubled per attempt, at most 5 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64 << attempt.saturating_sub(1).min(5)).min(Duration::from_secs(5))
}

/// The body as text, cut at [`MAX_QUOTED_BYTES`].
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(MAX_QUOTED_BYTES) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// True when no connection could be made, so the request was never sent.
fn is_connect(e: &(dyn StdError + 'static)) -> bool {
    e.downcast_ref::<hyper_util::client::legacy::Error>()
        .is_some_and(hyper_util::client::legacy::Error::is_connect)
}

/// `e` and its sources, `: `-separated (hyper's own message alone says little).
fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut res = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        res.push_str(": ");
        res.push_str(&s.to_string());
        source = s.source();
    }
    res
}

async fn join_one(tasks: &mut JoinSet<Result<(), Failure>>) -> Result<(), Failure> {
    match tasks.join_next().await {
        Some(Ok(result)) => result,
        Some(Err(e)) => Err(Failure::Failed(format!("a request task failed: {e}"))),
        None => Ok(()),
    }
}

/// Keeps the last record of each id, in order. PUTs in flight together may land in any
/// order, and a file that names an id twice means its last row, as a local import does.
fn last_of_each_id<T>(records: Vec<(String, T)>) -> Vec<(String, T)> {
    let mut last = std::collections::HashMap::with_capacity(records.len());
    for (index, (id, _)) in records.iter().enumerate() {
        last.insert(id.clone(), index);
    }
    records
        .into_iter()
        .enumerate()
        .filter(|(index, (id, _))| last.get(id) == Some(index))
        .map(|(_, record)| record)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_id_keeps_its_last_record() {
        let records = vec![("a".into(), 1), ("b".into(), 2), ("a".into(), 3)];
        assert_eq!(
            last_of_each_id(records),
            vec![("b".to_string(), 2), ("a".to_string(), 3)]
        );
    }

    #[test]
    fn answers_map_to_retries_and_failures() {
        let body = br#"{"error":{"code":"x","message":"y"}}"#;
        let check = |status: u16, retry_after: Option<&str>| {
            let status = StatusCode::from_u16(status).unwrap();
            let value = retry_after.map(|v| HeaderValue::from_str(v).unwrap());
            classify(
                &Method::POST,
                "http://h/v1/events",
                status,
                value.as_ref(),
                body,
                1,
            )
        };
        assert!(matches!(check(202, None), Attempt::Done(_)));
        match check(503, Some("2")) {
            Attempt::Retry { wait, why } => {
                assert_eq!(wait, Duration::from_secs(2));
                assert!(
                    why.contains("503") && why.contains(r#""code":"x""#),
                    "{why}"
                );
            }
            _ => panic!("503 is retried"),
        }
        match check(503, Some("3600")) {
            Attempt::Retry { wait, .. } => assert_eq!(wait, MAX_RETRY_WAIT),
            _ => panic!("503 is retried"),
        }
        assert!(matches!(
            check(413, None),
            Attempt::Stop(Failure::TooLarge(_))
        ));
        assert!(matches!(
            check(400, None),
            Attempt::Stop(Failure::Refused(_))
        ));
        assert!(matches!(
            check(500, None),
            Attempt::Stop(Failure::Failed(_))
        ));
    }

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        let waits: Vec<u64> = (1..=7).map(|a| backoff(a).as_millis() as u64).collect();
        assert_eq!(waits, vec![250, 500, 1000, 2000, 4000, 5000, 5000]);
    }
}
