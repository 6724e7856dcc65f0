//! What a simulation counts, overall and per serving variant, and the one-line report.
//!
//! Rates are over impressions (items shown), not over examined items: the examination model
//! is the same for every variant, so a rate per impression compares lists as users see them.

use std::collections::{BTreeMap, BTreeSet};

use recd_types::EventKind;
use serde::Serialize;

/// Engagement counts of a set of recommendation answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Answers that were the fallback list (deadline passed or no model) rather than the
    /// variant's own: many of them make a comparison of variants meaningless.
    pub fallbacks: u64,
    /// Items shown.
    pub impressions: u64,
    /// Views (examined items the user looked at without clicking).
    pub views: u64,
    /// Clicks, the ones that led to a cart or a purchase included.
    pub clicks: u64,
    /// Items put in the cart, the purchased ones included.
    pub add_to_cart: u64,
    /// Purchases.
    pub purchases: u64,
    /// `clicks / impressions` (0 without impressions).
    pub ctr: f64,
    /// `purchases / impressions` (0 without impressions).
    pub conversion: f64,
}

/// The counts of one serving variant.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VariantSummary {
    /// Distinct users who got an answer in the variant.
    pub users: u64,
    /// Answers in the variant.
    pub requests: u64,
    /// What they led to.
    #[serde(flatten)]
    pub counts: Counts,
}

/// The report of a run, printed as one JSON line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Users simulated.
    pub users: u32,
    /// Recommendation requests per user.
    pub steps: u32,
    /// Recommendation requests sent.
    pub requests: u64,
    /// Requests (recommendations or events) that failed: no answer, or not a success.
    pub errors: u64,
    /// Events the server accepted.
    pub events: u64,
    /// Shown items that are not items of the generated world (none when the server serves
    /// that world).
    pub unknown_items: u64,
    /// Over every answer.
    #[serde(flatten)]
    pub counts: Counts,
    /// By the `variant` of the answers (`"<experiment>/<variant>"`, or the server's default).
    pub variants: BTreeMap<String, VariantSummary>,
    /// Wall time of the run, in seconds.
    pub duration_s: f64,
    /// The first failure, when there were errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// Raw counts as the run goes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    pub(crate) fallbacks: u64,
    pub(crate) impressions: u64,
    kinds: [u64; 9],
}

impl Tally {
    pub(crate) fn add_kind(&mut self, kind: EventKind) {
        self.kinds[kind.index()] += 1;
    }

    fn add(&mut self, other: &Tally) {
        self.fallbacks += other.fallbacks;
        self.impressions += other.impressions;
        for (k, n) in self.kinds.iter_mut().zip(other.kinds) {
            *k += n;
        }
    }

    fn counts(&self) -> Counts {
        let count = |kind: EventKind| self.kinds[kind.index()];
        let per_impression = |n: u64| {
            if self.impressions == 0 {
                0.0
            } else {
                round(n as f64 / self.impressions as f64, 6)
            }
        };
        Counts {
            fallbacks: self.fallbacks,
            impressions: self.impressions,
            views: count(EventKind::View),
            clicks: count(EventKind::Click),
            add_to_cart: count(EventKind::AddToCart),
            purchases: count(EventKind::Purchase),
            ctr: per_impression(count(EventKind::Click)),
            conversion: per_impression(count(EventKind::Purchase)),
        }
    }
}

/// One variant's running counts.
#[derive(Debug, Default)]
struct VariantTally {
    users: BTreeSet<u32>,
    requests: u64,
    tally: Tally,
}

/// The whole run's running counts.
#[derive(Debug, Default)]
pub(crate) struct RunTally {
    requests: u64,
    errors: u64,
    events: u64,
    unknown_items: u64,
    variants: BTreeMap<String, VariantTally>,
    first_error: Option<String>,
}

/// What one user's step produced.
#[derive(Debug, Default)]
pub(crate) struct StepOutcome {
    pub(crate) user: u32,
    /// The answer's variant; `None` when there was no usable answer.
    pub(crate) variant: Option<String>,
    pub(crate) tally: Tally,
    pub(crate) unknown_items: u64,
    /// Events the server accepted.
    pub(crate) events: u64,
    /// Failed requests, each with its message.
    pub(crate) errors: Vec<String>,
}

impl RunTally {
    /// Adds a step's outcome.
    pub(crate) fn add(&mut self, outcome: StepOutcome) {
        self.requests += 1;
        self.errors += outcome.errors.len() as u64;
        self.events += outcome.events;
        self.unknown_items += outcome.unknown_items;
        if self.first_error.is_none() {
            self.first_error = outcome.errors.into_iter().next();
        }
        if let Some(variant) = outcome.variant {
            let v = self.variants.entry(variant).or_default();
            v.users.insert(outcome.user);
            v.requests += 1;
            v.tally.add(&outcome.tally);
        }
    }

    /// The report.
    pub(crate) fn summary(self, users: u32, steps: u32, duration_s: f64) -> Summary {
        let mut total = Tally::default();
        let variants = self
            .variants
            .into_iter()
            .map(|(name, v)| {
                total.add(&v.tally);
                let summary = VariantSummary {
                    users: v.users.len() as u64,
                    requests: v.requests,
                    counts: v.tally.counts(),
                };
                (name, summary)
            })
            .collect();
        Summary {
            users,
            steps,
            requests: self.requests,
            errors: self.errors,
            events: self.events,
            unknown_items: self.unknown_items,
            counts: total.counts(),
            variants,
            duration_s: round(duration_s, 3),
            first_error: self.first_error,
        }
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(user: u32, variant: &str, impressions: u64, kinds: &[EventKind]) -> StepOutcome {
        let mut tally = Tally {
            impressions,
            ..Tally::default()
        };
        kinds.iter().for_each(|&k| tally.add_kind(k));
        StepOutcome {
            user,
            variant: Some(variant.to_string()),
            tally,
            events: kinds.len() as u64,
            ..StepOutcome::default()
        }
    }

    #[test]
    fn counts_add_up_per_variant_and_overall() {
        use EventKind::*;
        let mut run = RunTally::default();
        run.add(step(1, "e/a", 10, &[Click, AddToCart, Purchase, View]));
        run.add(step(1, "e/a", 10, &[Click]));
        run.add(step(2, "e/b", 10, &[Skip]));
        run.add(StepOutcome {
            user: 3,
            errors: vec!["GET x: refused".into(), "later".into()],
            ..StepOutcome::default()
        });
        let s = run.summary(3, 2, 1.23456);
        assert_eq!((s.requests, s.errors, s.events), (4, 2, 6));
        assert_eq!(s.first_error.as_deref(), Some("GET x: refused"));
        let a = &s.variants["e/a"];
        assert_eq!((a.users, a.requests), (1, 2));
        assert_eq!(
            (a.counts.impressions, a.counts.clicks, a.counts.purchases),
            (20, 2, 1)
        );
        assert_eq!((a.counts.ctr, a.counts.conversion), (0.1, 0.05));
        assert_eq!(s.variants["e/b"].counts.ctr, 0.0);
        assert_eq!((s.counts.impressions, s.counts.clicks), (30, 2));
        assert_eq!(s.duration_s, 1.235);
        let line = serde_json::to_value(&s).unwrap();
        assert_eq!(line["ctr"], 0.066667);
        assert_eq!(line["users"], 3);
        assert_eq!(line["variants"]["e/a"]["add_to_cart"], 1);
    }
}
