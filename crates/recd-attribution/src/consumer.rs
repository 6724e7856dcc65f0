//! The consumer: reads the impressions log and the event log side by side, in time order,
//! into the [`Tally`], then follows both as they grow.
//!
//! After a restart the state is rebuilt the same way, from `horizon` back. The two logs are
//! merged by time (an impression before events up to `MERGE_SLACK_MS` older than it), so a
//! rebuilt tally joins events as the live one did; an event that cites a request id not read
//! yet (its impression is still in the writer's queue) waits up to `PENDING_WAIT` for it.

use std::collections::{HashMap, VecDeque};
use std::iter::Peekable;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use recd_store::{EventLog, LogIter, Offset, StoreError};
use recd_types::{Event, Impression, Record};

use crate::tally::Tally;

/// An impression is taken before events up to this much older than it: events carry client
/// clocks, impressions the server's.
const MERGE_SLACK_MS: i64 = 60_000;
/// How long an event citing an unknown request id waits for its impression.
const PENDING_WAIT: Duration = Duration::from_secs(30);

/// How the consumer runs.
#[derive(Debug, Clone)]
pub struct AttributionConfig {
    /// How long after an impression events are attributed to it, in ms.
    pub window_ms: i64,
    /// Most impressions kept for attribution (the oldest go first past it).
    pub max_kept: usize,
    /// How far back the tally starts, in ms before the start (the report's span).
    pub horizon_ms: i64,
    /// How often the logs are polled for new records.
    pub poll: Duration,
}

/// An item's category by id (`None`: unknown or none).
pub type CategoryOf = Box<dyn Fn(&str) -> Option<String> + Send>;

/// What the consumer reads.
pub struct Sources {
    /// The event logs: the data dir's log, or every partition of a fleet's bus (a user's
    /// events are in one of them, in order; they are merged by time).
    pub events: Vec<Arc<dyn EventLog>>,
    /// The impressions log.
    pub impressions: Arc<dyn EventLog>,
    /// An item's category, for the categories-per-list metric.
    pub category: CategoryOf,
}

/// The running attribution: the tally, shared with the report.
#[derive(Debug)]
pub struct Attribution {
    tally: Mutex<Tally>,
    caught_up: AtomicBool,
}

impl Attribution {
    /// The tally, locked (keep it short: the consumer waits meanwhile).
    pub fn tally(&self) -> MutexGuard<'_, Tally> {
        self.tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the first pass over the logs has finished (before it, reports are partial).
    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }
}

/// Starts the consumer thread; it stops when `stop` is set.
pub fn start(
    sources: Sources,
    config: AttributionConfig,
    now_ms: i64,
    stop: Arc<AtomicBool>,
) -> std::io::Result<(Arc<Attribution>, JoinHandle<()>)> {
    let shared = Arc::new(Attribution {
        tally: Mutex::new({
            let mut tally = Tally::new(config.window_ms, config.max_kept);
            // Answers from now on are live traffic; older ones are the rebuild.
            tally.count_live_from(now_ms);
            tally
        }),
        caught_up: AtomicBool::new(false),
    });
    let inner = shared.clone();
    let handle = std::thread::Builder::new()
        .name("recd-attribution".into())
        .spawn(move || {
            let since = now_ms - config.horizon_ms;
            let mut at = Positions {
                events: sources
                    .events
                    .iter()
                    .map(|log| log.offset_for_time(since))
                    .collect(),
                impressions: sources.impressions.offset_for_time(since),
                pending: VecDeque::new(),
                categories: HashMap::new(),
            };
            while !stop.load(Ordering::Acquire) {
                if let Err(e) = pass(&sources, &inner, &mut at) {
                    tracing::warn!(error = %e, "attribution: reading the logs failed; retrying");
                }
                if !inner.caught_up.swap(true, Ordering::AcqRel) {
                    tracing::info!(
                        kept = inner.tally().kept(),
                        "attribution caught up with the logs"
                    );
                }
                crate::telemetry::publish(&inner.tally());
                std::thread::sleep(config.poll);
            }
        })?;
    Ok((shared, handle))
}

/// Where the consumer is.
struct Positions {
    /// Per event log of [`Sources::events`].
    events: Vec<Offset>,
    impressions: Offset,
    /// Events that cited a request id not read yet, with when they were first tried.
    pending: VecDeque<(Instant, Event)>,
    /// Items' categories as looked up: a catalog read per item shown took CPU from the
    /// answers. A category changed later is seen after the cache is next cleared, which is
    /// fine for a diversity figure.
    categories: HashMap<String, Option<String>>,
}

/// Items whose category is remembered at most; past it the cache starts over.
const MAX_CACHED_CATEGORIES: usize = 1 << 20;

type Records<'a> = Peekable<LogIter<'a>>;

/// The next record's timestamp, skipping errors (returned on `next`).
fn peek_ms(it: &mut Records<'_>) -> Option<i64> {
    match it.peek() {
        Some(Ok((_, r))) => Some(r.timestamp_ms()),
        Some(Err(_)) => Some(i64::MIN),
        None => None,
    }
}

/// Reads what the logs hold past the positions, merged by time.
fn pass(sources: &Sources, shared: &Attribution, at: &mut Positions) -> Result<(), StoreError> {
    let mut impressions: Records<'_> = sources.impressions.read_from(at.impressions)?.peekable();
    let mut events: Vec<Records<'_>> = sources
        .events
        .iter()
        .zip(&at.events)
        .map(|(log, &from)| Ok(log.read_from(from)?.peekable()))
        .collect::<Result<_, StoreError>>()?;
    // Events that waited in vain are given up; the others are tried again first.
    let now = Instant::now();
    let retry: Vec<(Instant, Event)> = at.pending.drain(..).collect();
    {
        let mut tally = shared.tally();
        for (since, event) in retry {
            if !tally.event(&event) {
                if now.duration_since(since) > PENDING_WAIT {
                    tally.joins.unknown_request += 1;
                } else {
                    at.pending.push_back((since, event));
                }
            }
        }
    }
    loop {
        // The event log whose next event is the oldest.
        let next_event = events
            .iter_mut()
            .enumerate()
            .filter_map(|(k, it)| Some((peek_ms(it)?, k)))
            .min();
        let take_impression = match (peek_ms(&mut impressions), next_event) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(i), Some((e, _))) => i <= e.saturating_add(MERGE_SLACK_MS),
        };
        if take_impression {
            let (offset, record) = impressions.next().expect("peeked")?;
            at.impressions = offset + 1;
            if let Record::Impression(i) = record {
                let categories = distinct_categories(&i, &*sources.category, &mut at.categories);
                shared.tally().impression(&i, categories);
            }
        } else if let Some((_, k)) = next_event {
            let (offset, record) = events[k].next().expect("peeked")?;
            at.events[k] = offset + 1;
            if let Record::Event(e) = record
                && e.flag.is_none()
                && !shared.tally().event(&e)
            {
                at.pending.push_back((now, e));
            }
        }
    }
    Ok(())
}

fn distinct_categories(
    i: &Impression,
    category: &dyn Fn(&str) -> Option<String>,
    cache: &mut HashMap<String, Option<String>>,
) -> usize {
    if cache.len() > MAX_CACHED_CATEGORIES {
        cache.clear();
    }
    for s in &i.items {
        let id = s.item_id.as_str();
        if !cache.contains_key(id) {
            cache.insert(id.to_string(), category(id));
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for s in &i.items {
        if let Some(c) = cache.get(s.item_id.as_str()).and_then(Option::as_deref)
            && !seen.contains(&c)
        {
            seen.push(c);
        }
    }
    seen.len()
}
