//! The state: recent impressions by request id, and per experiment variant the per-user
//! counts that the report analyses.
//!
//! An event joins the impression it came from by the `request_id` it carries. Without one,
//! a click, add-to-cart or purchase of an item joins the newest impression of that user that
//! showed the item within the attribution window. An item's first click and first purchase
//! per impression count; repeats (a double click, a second purchase of one showing) do not.

use std::collections::{HashMap, HashSet, VecDeque};

use recd_types::{Event, EventKind, Impression};

/// Per-user counts of one variant.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UserTally {
    /// Lists shown.
    pub answers: u32,
    /// Items shown.
    pub impressions: u32,
    /// Shown items clicked (first per showing).
    pub clicks: u32,
    /// Shown items added to the cart (first per showing).
    pub add_to_cart: u32,
    /// Shown items bought (first per showing).
    pub conversions: u32,
    /// Sum of the dwell times of attributed clicks, in ms.
    pub dwell_ms: u64,
    /// Attributed clicks that reported a dwell time.
    pub dwell_n: u32,
}

/// Answer-level counts of one variant (independent of users).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnswerTally {
    /// Lists shown.
    pub answers: u64,
    /// Lists for users with nothing personal to go on.
    pub cold: u64,
    /// Lists that were the fallback (deadline, or no model).
    pub fallback: u64,
    /// Lists ranked by the light ranker.
    pub degraded: u64,
    /// Sum over lists of their distinct categories (items without one count as none).
    pub categories: u64,
    /// Latency histogram: `LATENCY_BOUNDS_US[i]` is bucket i's upper bound.
    pub latency: Vec<u64>,
}

/// Upper bounds of the latency buckets in µs: ×1.25 steps from 50 µs to about 20 s (the last
/// bucket takes everything above).
pub fn latency_bounds_us() -> &'static [u32] {
    static BOUNDS: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    BOUNDS.get_or_init(|| {
        let mut b = vec![50u32];
        while *b.last().expect("non-empty") < 20_000_000 {
            let next = (f64::from(*b.last().expect("non-empty")) * 1.25).ceil() as u32;
            b.push(next);
        }
        b
    })
}

impl AnswerTally {
    fn add(&mut self, impression: &Impression, categories: usize) {
        if self.latency.is_empty() {
            self.latency = vec![0; latency_bounds_us().len() + 1];
        }
        self.answers += 1;
        self.cold += u64::from(impression.cold);
        self.fallback += u64::from(impression.fallback);
        self.degraded += u64::from(impression.degraded);
        self.categories += categories as u64;
        let bucket = latency_bounds_us().partition_point(|&b| b < impression.latency_us);
        self.latency[bucket] += 1;
    }

    /// The latency below which a share `q` of answers fell (the bucket's upper bound), in ms.
    pub fn latency_quantile_ms(&self, q: f64) -> Option<f64> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.latency.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let bounds = latency_bounds_us();
                let us = bounds.get(i).copied().unwrap_or(u32::MAX);
                return Some(f64::from(us) / 1000.0);
            }
        }
        None
    }
}

/// Everything tallied for one `"<experiment>/<variant>"`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VariantTally {
    /// Per user.
    pub users: HashMap<String, UserTally>,
    /// The sum over users (kept as it goes, for metrics).
    pub totals: UserTally,
    /// Per answer.
    pub answers: AnswerTally,
}

/// An impression kept for attribution.
#[derive(Debug)]
struct Kept {
    at_ms: i64,
    user: Option<String>,
    labels: Vec<u32>,
    items: Vec<String>,
    /// `(item, kind)` pairs already counted for this showing.
    counted: HashSet<(u32, u8)>,
}

/// How events found (or did not find) their impression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JoinCounts {
    /// Joined by request id.
    pub by_request_id: u64,
    /// Joined by user and item within the window.
    pub by_window: u64,
    /// Cited a request id that is not (or no longer) known.
    pub unknown_request: u64,
}

/// The attribution state.
#[derive(Debug)]
pub struct Tally {
    window_ms: i64,
    max_kept: usize,
    labels: Vec<String>,
    label_ids: HashMap<String, u32>,
    variants: Vec<VariantTally>,
    kept: HashMap<String, Kept>,
    /// Request ids in the order their impressions were read, for expiry.
    order: VecDeque<(i64, String)>,
    /// Per user, their kept request ids, oldest first.
    by_user: HashMap<String, VecDeque<String>>,
    /// Join outcomes so far.
    pub joins: JoinCounts,
    /// Items shown and clicked in answers made since [`Tally::count_live_from`].
    pub live: LiveCounts,
    /// Changes to the variants' tallies so far (a publisher skips an unchanged tally).
    changes: u64,
}

/// Items shown and clicked in live answers only: a rebuild after a restart replays weeks of
/// impressions, which counters (rates per day for alerts) must not see as new traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveCounts {
    /// Answers made at or after this time count (ms; never, until set).
    pub from_ms: i64,
    /// Items shown.
    pub shown: u64,
    /// Shown items clicked (the first click per showing and item).
    pub clicked: u64,
}

impl Default for LiveCounts {
    fn default() -> Self {
        Self {
            from_ms: i64::MAX,
            shown: 0,
            clicked: 0,
        }
    }
}

impl Tally {
    /// Keeps impressions for `window_ms` after they were shown, at most `max_kept` of them.
    pub fn new(window_ms: i64, max_kept: usize) -> Self {
        Self {
            window_ms,
            max_kept: max_kept.max(1),
            labels: Vec::new(),
            label_ids: HashMap::new(),
            variants: Vec::new(),
            kept: HashMap::new(),
            order: VecDeque::new(),
            by_user: HashMap::new(),
            joins: JoinCounts::default(),
            live: LiveCounts::default(),
            changes: 0,
        }
    }

    /// How many times the variants' tallies changed so far: equal numbers, equal tallies.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Counts answers made at or after `from_ms` (and clicks on them) in [`Tally::live`].
    pub fn count_live_from(&mut self, from_ms: i64) {
        self.live.from_ms = from_ms;
    }

    fn label(&mut self, label: &str) -> u32 {
        if let Some(&id) = self.label_ids.get(label) {
            return id;
        }
        let id = self.labels.len() as u32;
        self.labels.push(label.to_string());
        self.label_ids.insert(label.to_string(), id);
        self.variants.push(VariantTally::default());
        id
    }

    /// Whether an impression with this request id is kept.
    pub fn knows(&self, request_id: &str) -> bool {
        self.kept.contains_key(request_id)
    }

    /// Takes in one impression; `categories` is the number of distinct categories among its
    /// items.
    pub fn impression(&mut self, impression: &Impression, categories: usize) {
        let labels: Vec<u32> = impression
            .experiments
            .iter()
            .map(|l| self.label(l))
            .collect();
        let user = impression.user_id.as_ref().map(|u| u.as_str().to_string());
        self.changes += u64::from(!labels.is_empty());
        for &l in &labels {
            let v = &mut self.variants[l as usize];
            v.answers.add(impression, categories);
            let shown = impression.items.len() as u32;
            v.totals.answers += 1;
            v.totals.impressions += shown;
            if let Some(u) = &user {
                let t = v.users.entry(u.clone()).or_default();
                t.answers += 1;
                t.impressions += shown;
            }
        }
        if impression.at_ms >= self.live.from_ms {
            self.live.shown += impression.items.len() as u64;
        }
        let request_id = impression.request_id.clone();
        if let Some(u) = &user {
            self.by_user
                .entry(u.clone())
                .or_default()
                .push_back(request_id.clone());
        }
        self.order.push_back((impression.at_ms, request_id.clone()));
        self.kept.insert(
            request_id,
            Kept {
                at_ms: impression.at_ms,
                user,
                labels,
                items: impression
                    .items
                    .iter()
                    .map(|s| s.item_id.as_str().to_string())
                    .collect(),
                counted: HashSet::new(),
            },
        );
        self.expire(impression.at_ms);
    }

    /// Forgets impressions shown more than the window before `now_ms`, and the oldest past
    /// the cap.
    pub fn expire(&mut self, now_ms: i64) {
        while let Some((at, _)) = self.order.front() {
            if *at >= now_ms - self.window_ms && self.order.len() <= self.max_kept {
                break;
            }
            let (_, id) = self.order.pop_front().expect("front exists");
            if let Some(kept) = self.kept.remove(&id)
                && let Some(u) = kept.user
                && let Some(ids) = self.by_user.get_mut(&u)
            {
                ids.retain(|r| *r != id);
                if ids.is_empty() {
                    self.by_user.remove(&u);
                }
            }
        }
    }

    /// Attributes one event, if it is an engagement with a shown item. Returns false when it
    /// cites a request id not known (yet): the caller may retry once more impressions are read.
    pub fn event(&mut self, event: &Event) -> bool {
        let Some(kind) = counted_kind(event.kind) else {
            return true;
        };
        let Some(item) = event.item_id.as_ref().map(|i| i.as_str()) else {
            return true;
        };
        let user = event.user_id.as_str();
        let request_id = match &event.request_id {
            Some(r) => {
                if !self.kept.contains_key(r) {
                    return false;
                }
                self.joins.by_request_id += 1;
                r.clone()
            }
            None => {
                let newest = self.by_user.get(user).and_then(|ids| {
                    ids.iter().rev().find(|id| {
                        self.kept.get(*id).is_some_and(|k| {
                            k.at_ms <= event.timestamp_ms
                                && event.timestamp_ms - k.at_ms <= self.window_ms
                                && k.items.iter().any(|i| i == item)
                        })
                    })
                });
                match newest {
                    Some(id) => {
                        self.joins.by_window += 1;
                        id.clone()
                    }
                    None => return true,
                }
            }
        };
        let kept = self.kept.get_mut(&request_id).expect("checked above");
        let Some(position) = kept.items.iter().position(|i| i == item) else {
            // An event citing the answer about an item it did not show is not a click on it.
            return true;
        };
        if !kept.counted.insert((position as u32, kind as u8)) {
            return true;
        }
        if kind == Counted::Click && kept.at_ms >= self.live.from_ms {
            self.live.clicked += 1;
        }
        // The impression's user, not the event's: a list is attributed to whom it was shown.
        let owner = kept.user.clone().unwrap_or_else(|| user.to_string());
        self.changes += u64::from(!kept.labels.is_empty());
        for &l in &kept.labels {
            let v = &mut self.variants[l as usize];
            add(&mut v.totals, kind, event.dwell_ms);
            add(
                v.users.entry(owner.clone()).or_default(),
                kind,
                event.dwell_ms,
            );
        }
        true
    }

    /// The tallies of every variant seen, by label.
    pub fn variants(&self) -> impl Iterator<Item = (&str, &VariantTally)> {
        self.labels
            .iter()
            .map(String::as_str)
            .zip(self.variants.iter())
    }

    /// The tally of one label.
    pub fn variant(&self, label: &str) -> Option<&VariantTally> {
        self.label_ids
            .get(label)
            .map(|&l| &self.variants[l as usize])
    }

    /// Impressions kept for attribution.
    pub fn kept(&self) -> usize {
        self.kept.len()
    }
}

fn add(t: &mut UserTally, kind: Counted, dwell_ms: Option<u32>) {
    match kind {
        Counted::Click => {
            t.clicks += 1;
            if let Some(d) = dwell_ms {
                t.dwell_ms += u64::from(d);
                t.dwell_n += 1;
            }
        }
        Counted::Cart => t.add_to_cart += 1,
        Counted::Purchase => t.conversions += 1,
    }
}

/// What an event counts as, when it concerns a shown item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counted {
    Click = 0,
    Cart = 1,
    Purchase = 2,
}

fn counted_kind(kind: EventKind) -> Option<Counted> {
    match kind {
        EventKind::Click => Some(Counted::Click),
        EventKind::AddToCart => Some(Counted::Cart),
        EventKind::Purchase => Some(Counted::Purchase),
        // A view says the item was seen (the seed's "viewed but did not click" is a negative
        // example), not that the list was clicked.
        EventKind::View
        | EventKind::Rating
        | EventKind::Like
        | EventKind::Dislike
        | EventKind::Skip
        | EventKind::Search => None,
    }
}

#[cfg(test)]
pub(crate) mod tests;
