//! The simulator's HTTP client: hyper's pooled client (hyper, hyper-util and tokio are already
//! built for the server, so it adds no crate), the API key on every request, and a time limit
//! on each request so that a stalled server shows as errors rather than a hung run.

use std::error::Error as StdError;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::SimError;

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take, the answer's body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of an error body a message quotes.
const MAX_QUOTED_CHARS: usize = 500;

/// A server's answer.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

impl Answer {
    /// The body as text for a message, cut at `MAX_QUOTED_CHARS`.
    pub(crate) fn quote(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(MAX_QUOTED_CHARS) {
            Some((cut, _)) => format!("{}...", &text[..cut]),
            None => text.to_string(),
        }
    }
}

/// A client for one server.
pub(crate) struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    /// The URL without a trailing slash; request paths are appended to it.
    base: String,
    authorization: Option<HeaderValue>,
}

impl Http {
    /// Checks `url` (plain `http://HOST:PORT`, as `recd serve` speaks) and `api_key`.
    pub(crate) fn new(url: &str, api_key: Option<&str>) -> Result<Self, SimError> {
        let base = url.trim_end_matches('/').to_string();
        let bad = |reason: &str| SimError::InvalidConfig(format!("server URL {url:?}: {reason}"));
        let uri: Uri = base.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(bad("expected http://HOST:PORT"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(bad("expected no path or query, only http://HOST:PORT"));
        }
        let authorization = api_key
            .map(|key| {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    SimError::InvalidConfig(
                        "the API key has characters an HTTP header cannot carry".into(),
                    )
                })?;
                value.set_sensitive(true);
                Ok::<_, SimError>(value)
            })
            .transpose()?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base,
            authorization,
        })
    }

    /// The server URL as given, without a trailing slash.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `GET path`.
    pub(crate) async fn get(&self, path: &str) -> Result<Answer, String> {
        self.send(Method::GET, path, Bytes::new()).await
    }

    /// `POST path` with a JSON body.
    pub(crate) async fn post(&self, path: &str, json: Bytes) -> Result<Answer, String> {
        self.send(Method::POST, path, json).await
    }

    /// One request; the error says which request and why it got no answer.
    async fn send(&self, method: Method, path: &str, body: Bytes) -> Result<Answer, String> {
        let failed = |why: String| format!("{method} {path}: {why}");
        let mut request = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base));
        if !body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| failed(e.to_string()))?;
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, Box<dyn StdError + Send + Sync>>(Answer { status, body })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Err(_) => Err(failed(format!(
                "no answer within {} s",
                REQUEST_TIMEOUT.as_secs()
            ))),
            Ok(Err(e)) => Err(failed(error_chain(e.as_ref()))),
            Ok(Ok(answer)) => Ok(answer),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_base_urls_are_accepted() {
        for url in ["http://127.0.0.1:8080", "http://localhost:1/", "http://h"] {
            assert!(Http::new(url, None).is_ok(), "{url}");
        }
        for url in [
            "127.0.0.1:8080",
            "https://h:1",
            "http://h:1/v1",
            "http://h:1/?a=b",
            "not a url",
        ] {
            let err = Http::new(url, None).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains(url)),
                "{url}: {err:?}"
            );
        }
        assert!(Http::new("http://h:1", Some("bad\nkey")).is_err());
    }
}
