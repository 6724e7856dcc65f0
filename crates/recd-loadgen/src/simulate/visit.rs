//! One step of one simulated user: ask for recommendations on the session's device, react to
//! the list by the user's hidden taste and that device, send the events the reactions make with
//! the answer's `request_id` and the device.

use hyper::StatusCode;
use hyper::body::Bytes;
use recd_api::{ContextIn, EventIn, RecommendationsOut};
use recd_gen::{Generator, Reaction, Shopper};
use recd_types::ItemId;

use super::client::Http;
use super::summary::StepOutcome;

/// What every step of a run shares.
pub(crate) struct Visit<'a> {
    pub(crate) http: &'a Http,
    pub(crate) generator: &'a Generator,
    /// Items asked for.
    pub(crate) num_results: usize,
    /// Prefix of the users' session ids: one session per user per run.
    pub(crate) session_prefix: &'a str,
}

impl Visit<'_> {
    /// One request, the reactions, and their events; failures are counted, not returned.
    pub(crate) async fn step(&self, shopper: &mut Shopper) -> StepOutcome {
        let user = shopper.index();
        let mut outcome = StepOutcome {
            user,
            ..StepOutcome::default()
        };
        let user_id = Generator::user_id(user);
        // The device, as a live client would send it: a ranker that learned the device's
        // categories from the log can only use them when the request names it.
        let path = format!(
            "/v1/recommendations?user_id={user_id}&num_results={}&device={}",
            self.num_results,
            shopper.device()
        );
        let answer = match self.http.get(&path).await {
            Ok(answer) if answer.status == StatusCode::OK => answer,
            Ok(answer) => {
                let (status, body) = (answer.status, answer.quote());
                outcome
                    .errors
                    .push(format!("GET {path} answered {status}: {body}"));
                return outcome;
            }
            Err(e) => {
                outcome.errors.push(e);
                return outcome;
            }
        };
        let (recs, shown) = match parse(&answer.body) {
            Ok(parsed) => parsed,
            Err(e) => {
                outcome.errors.push(format!("GET {path}: {e}"));
                return outcome;
            }
        };
        let n_items = self.generator.config().n_items;
        outcome.unknown_items = shown
            .iter()
            .filter(|id| Generator::item_index(id).is_none_or(|i| i >= n_items))
            .count() as u64;
        outcome.tally.impressions = shown.len() as u64;
        outcome.tally.fallbacks = u64::from(recs.fallback);
        outcome.variant = Some(recs.variant);
        let reactions = self.generator.react(shopper, &shown);
        reactions
            .iter()
            .for_each(|r| outcome.tally.add_kind(r.kind));
        if reactions.is_empty() {
            return outcome;
        }
        let session = Session {
            user_id: user_id.to_string(),
            id: format!("{}-{user_id}", self.session_prefix),
            device: shopper.device(),
        };
        let events: Vec<EventIn> = reactions
            .iter()
            .map(|r| event(r, &session, &recs.request_id))
            .collect();
        let body = match serde_json::to_vec(&events) {
            Ok(body) => Bytes::from(body),
            Err(e) => {
                outcome
                    .errors
                    .push(format!("encoding events of {user_id}: {e}"));
                return outcome;
            }
        };
        match self.http.post("/v1/events", body).await {
            Ok(answer) if answer.status == StatusCode::ACCEPTED => {
                outcome.events = events.len() as u64;
            }
            Ok(answer) => {
                let (status, body) = (answer.status, answer.quote());
                outcome
                    .errors
                    .push(format!("POST /v1/events answered {status}: {body}"));
            }
            Err(e) => outcome.errors.push(e),
        }
        outcome
    }
}

/// The answer and its items as ids.
fn parse(body: &[u8]) -> Result<(RecommendationsOut, Vec<ItemId>), String> {
    let recs: RecommendationsOut =
        serde_json::from_slice(body).map_err(|e| format!("not a recommendations answer: {e}"))?;
    let shown = recs
        .items
        .iter()
        .map(|item| ItemId::parse(item.item_id.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the answer names an invalid item id: {e}"))?;
    Ok((recs, shown))
}

/// Who a step's events are of, and where they happen.
struct Session {
    user_id: String,
    /// One session per user per run.
    id: String,
    /// The session's device, so the log records what the user browsed on it.
    device: &'static str,
}

/// A reaction as the body of `POST /v1/events` carries it. No timestamp: the server stamps
/// the receive time, which is when a live user's event would have happened.
fn event(reaction: &Reaction, session: &Session, request_id: &str) -> EventIn {
    EventIn {
        user_id: Some(session.user_id.clone()),
        item_id: Some(Generator::item_id(reaction.item).to_string()),
        kind: Some(reaction.kind.as_str().to_string()),
        value: reaction.value,
        dwell_ms: reaction.dwell_ms,
        session_id: Some(session.id.clone()),
        request_id: Some(request_id.to_string()),
        context: Some(ContextIn {
            device: Some(session.device.to_string()),
            page: Some("recommendations".into()),
            ..ContextIn::default()
        }),
        ..EventIn::default()
    }
}
