//! The user simulator behind `recd simulate`: users of a generated world, as
//! [`recd_gen::Shopper`]s, ask a server trained on that world's data for recommendations and
//! act on them by their hidden taste and their session's device, and the run counts what each
//! serving variant earned.
//!
//! A run is `steps` rounds; in each, every simulated user asks once (`GET
//! /v1/recommendations` with the session's `device`), reacts, and posts the events of the
//! reactions (`POST /v1/events`, with the answer's `request_id` and the device in `context`)
//! before the next round. Rounds rather than each user's steps back to back leave the
//! server's updater time to apply a user's events before that user asks again, as between the
//! page views of a live user. At most `concurrency` users are in a request at once. The users
//! and each user's choices (device included) are fixed by the seed; what they are shown
//! depends on the server.
//!
//! Before the run, `/healthz` must answer and the server's first and last items must carry
//! the titles the world gives them: a server holding other data (another seed or size) is
//! refused, since its users' tastes would not be the ones simulated.

mod client;
mod summary;
mod visit;

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hyper::StatusCode;
use recd_api::ItemOut;
use recd_gen::{Generator, Shopper};
use tokio::task::JoinSet;

pub use summary::{Counts, Summary, VariantSummary};

use crate::SimError;
use client::Http;
use summary::{RunTally, StepOutcome};
use visit::Visit;

/// The settings of a run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Base URL of the server, `http://HOST:PORT`.
    pub server: String,
    /// Sent as `Authorization: Bearer KEY` (scopes `read` and `ingest`), if the server has keys.
    pub api_key: Option<String>,
    /// Users to simulate, drawn from the world's users (at most all of them).
    pub users: u32,
    /// Recommendation requests per user.
    pub steps: u32,
    /// Items asked for per request (`num_results`).
    pub num_results: usize,
    /// Users in a request at once.
    pub concurrency: usize,
}

impl SimConfig {
    fn validate(&self, population: u32) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::InvalidConfig(m));
        if self.users == 0 || self.users > population {
            return bad(format!(
                "users to simulate must be between 1 and the world's {population} users, not {}",
                self.users
            ));
        }
        if self.steps == 0 {
            return bad("steps must be at least 1".into());
        }
        if self.num_results == 0 {
            return bad("the number of items per request must be at least 1".into());
        }
        if self.concurrency == 0 {
            return bad("concurrency must be at least 1".into());
        }
        Ok(())
    }
}

/// Runs a simulation of `generator`'s users against the server of `config`.
///
/// Errors only when the run cannot start (bad settings, no server, refused credentials, a
/// server holding other data); failed requests during the run are counted in the summary.
pub async fn run(config: &SimConfig, generator: Arc<Generator>) -> Result<Summary, SimError> {
    config.validate(generator.config().n_users)?;
    let http = Arc::new(Http::new(&config.server, config.api_key.as_deref())?);
    let started = Instant::now();
    check_server(&http, &generator).await?;
    let run_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let session_prefix: Arc<str> = format!("sim{run_ms}").into();
    let mut shoppers: Vec<Shopper> = generator
        .sample_users(config.users)
        .into_iter()
        .map(|u| generator.shopper(u))
        .collect();
    let mut tally = RunTally::default();
    for step in 0..config.steps {
        let mut tasks = JoinSet::new();
        let mut back = Vec::with_capacity(shoppers.len());
        for mut shopper in shoppers {
            if tasks.len() >= config.concurrency {
                back.push(join(&mut tasks, &mut tally).await?);
            }
            let (http, generator) = (Arc::clone(&http), Arc::clone(&generator));
            let (num_results, session_prefix) = (config.num_results, Arc::clone(&session_prefix));
            tasks.spawn(async move {
                let visit = Visit {
                    http: &http,
                    generator: &generator,
                    num_results,
                    session_prefix: &session_prefix,
                };
                let outcome = visit.step(&mut shopper).await;
                (shopper, outcome)
            });
        }
        while !tasks.is_empty() {
            back.push(join(&mut tasks, &mut tally).await?);
        }
        // Completion order varies; user order keeps the next round's requests in the same order.
        back.sort_by_key(Shopper::index);
        shoppers = back;
        tracing::info!(
            step = step + 1,
            steps = config.steps,
            "simulation round done"
        );
    }
    let duration_s = started.elapsed().as_secs_f64();
    Ok(tally.summary(config.users, config.steps, duration_s))
}

/// Waits for one user's step, adds its outcome and hands the user back.
async fn join(
    tasks: &mut JoinSet<(Shopper, StepOutcome)>,
    tally: &mut RunTally,
) -> Result<Shopper, SimError> {
    match tasks.join_next().await {
        Some(Ok((shopper, outcome))) => {
            tally.add(outcome);
            Ok(shopper)
        }
        Some(Err(e)) => Err(SimError::Internal(format!("a user's task failed: {e}"))),
        None => Err(SimError::Internal("no user's task to wait for".into())),
    }
}

/// A server answers, accepts the credentials, and holds `generator`'s catalog: its first and
/// last items have the generated titles.
async fn check_server(http: &Http, generator: &Generator) -> Result<(), SimError> {
    let unreachable = |reason: String| SimError::Unreachable {
        url: http.base().to_string(),
        reason,
    };
    let health = http.get("/healthz").await.map_err(unreachable)?;
    if health.status != StatusCode::OK {
        return Err(unreachable(format!(
            "GET /healthz answered {}: {}",
            health.status,
            health.quote()
        )));
    }
    let n_items = generator.config().n_items;
    for idx in [0, n_items.saturating_sub(1)] {
        let id = Generator::item_id(idx);
        let path = format!("/v1/items/{id}");
        let answer = http.get(&path).await.map_err(unreachable)?;
        let status = answer.status;
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(SimError::Unauthorized {
                request: format!("GET {path}"),
                status: status.as_u16(),
                body: answer.quote(),
            });
        }
        if status == StatusCode::NOT_FOUND {
            return Err(SimError::WrongWorld(format!("it has no item {id}")));
        }
        if status != StatusCode::OK {
            return Err(unreachable(format!(
                "GET {path} answered {status}: {}",
                answer.quote()
            )));
        }
        let served: ItemOut = serde_json::from_slice(&answer.body)
            .map_err(|e| unreachable(format!("GET {path}: not an item: {e}")))?;
        let generated = generator.item(idx).title;
        if served.title != generated {
            return Err(SimError::WrongWorld(format!(
                "its item {id} is {:?}, the world's is {generated:?}",
                served.title
            )));
        }
    }
    Ok(())
}
