//! One report for a fleet: each API process tallies only the impressions it served (the ones
//! in its own impressions log), so each publishes its tally ([`Snapshot`]) to the fleet's
//! Redis every few seconds and a report on any process adds the others' latest snapshots to its
//! own live tally. Counts of one user served by several processes add up, which is what they
//! are: separate showings.
//!
//! A snapshot is keyed by its data dir's impressions log (not by the process run: a restarted
//! process rebuilds the same tally from the same log and replaces its snapshot), and carries
//! the time it was taken, so the snapshots of a data dir gone for longer than the report's
//! horizon are left out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::report::{Design, Report, report_with};
use crate::tally::{AnswerTally, Tally, UserTally, VariantTally};

/// A process's tally at one moment, by variant label.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When it was taken, ms since the epoch.
    pub at_ms: i64,
    /// Per `"<experiment>/<variant>"`.
    pub variants: BTreeMap<String, VariantTally>,
}

impl Snapshot {
    /// `tally` now, taken at `at_ms`.
    pub fn of(tally: &Tally, at_ms: i64) -> Self {
        Self {
            at_ms,
            variants: tally
                .variants()
                .map(|(label, v)| (label.to_string(), v.clone()))
                .collect(),
        }
    }

    /// As stored on Redis.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// From Redis; `None` for bytes that are not a snapshot (logged by the caller).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

impl UserTally {
    fn add(&mut self, o: &UserTally) {
        self.answers += o.answers;
        self.impressions += o.impressions;
        self.clicks += o.clicks;
        self.add_to_cart += o.add_to_cart;
        self.conversions += o.conversions;
        self.dwell_ms += o.dwell_ms;
        self.dwell_n += o.dwell_n;
    }
}

impl AnswerTally {
    fn merge(&mut self, o: &AnswerTally) {
        self.answers += o.answers;
        self.cold += o.cold;
        self.fallback += o.fallback;
        self.degraded += o.degraded;
        self.categories += o.categories;
        if self.latency.len() < o.latency.len() {
            self.latency.resize(o.latency.len(), 0);
        }
        for (mine, theirs) in self.latency.iter_mut().zip(&o.latency) {
            *mine += theirs;
        }
    }
}

impl VariantTally {
    /// Adds another process's counts of the same variant.
    pub fn merge(&mut self, o: &VariantTally) {
        for (user, t) in &o.users {
            self.users.entry(user.clone()).or_default().add(t);
        }
        self.totals.add(&o.totals);
        self.answers.merge(&o.answers);
    }
}

/// The report of `design` over this process's `tally` and the other processes' `others`.
pub fn fleet_report(design: &Design, tally: &Tally, others: &[Snapshot]) -> Report {
    if others.is_empty() {
        // Nothing to add: no copy of this process's per-user counts.
        return crate::report::report(design, tally);
    }
    let mut merged: BTreeMap<String, VariantTally> = BTreeMap::new();
    for (v, _) in &design.variants {
        let label = format!("{}/{v}", design.name);
        let mut sum = tally.variant(&label).cloned().unwrap_or_default();
        for other in others {
            if let Some(t) = other.variants.get(&label) {
                sum.merge(t);
            }
        }
        merged.insert(label, sum);
    }
    report_with(design, |label| merged.get(label))
}

#[cfg(test)]
mod tests {
    use recd_types::EventKind;

    use super::*;
    use crate::report::report;
    use crate::tally::tests::{event, shown};

    fn design() -> Design {
        Design {
            name: "e".into(),
            variants: vec![("a".into(), 50.0), ("b".into(), 50.0)],
            control: "a".into(),
        }
    }

    /// Users of `variant` each shown 10 items once, every `click_every`-th one clicking.
    fn served(tally: &mut Tally, variant: &str, users: std::ops::Range<usize>, click_every: usize) {
        let items: Vec<String> = (0..10).map(|k| format!("i{k}")).collect();
        let items: Vec<&str> = items.iter().map(String::as_str).collect();
        for u in users {
            let (user, request) = (format!("u{u}"), format!("r-{variant}-{u}-{click_every}"));
            tally.impression(
                &shown(&request, &user, &format!("e/{variant}"), &items, 1_000),
                1,
            );
            if u % click_every == 0 {
                tally.event(&event(&user, "i0", EventKind::Click, Some(&request), 1_500));
            }
        }
    }

    #[test]
    fn a_fleet_report_is_the_report_of_all_processes_traffic_in_one_tally() {
        let (mut one, mut two, mut all) = (
            Tally::new(60_000, 1 << 20),
            Tally::new(60_000, 1 << 20),
            Tally::new(60_000, 1 << 20),
        );
        // Process one serves users 0..300, process two 300..600, some users on both.
        served(&mut one, "a", 0..300, 3);
        served(&mut one, "b", 0..300, 2);
        served(&mut two, "a", 250..600, 3);
        served(&mut two, "b", 250..600, 2);
        served(&mut all, "a", 0..300, 3);
        served(&mut all, "b", 0..300, 2);
        served(&mut all, "a", 250..600, 3);
        served(&mut all, "b", 250..600, 2);
        let published = Snapshot::decode(&Snapshot::of(&two, 5).encode()).unwrap();
        let fleet = fleet_report(&design(), &one, &[published]);
        let single = report(&design(), &all);
        assert_eq!(fleet.variants, single.variants);
        assert_eq!(fleet.comparisons.len(), single.comparisons.len());
        for (f, s) in fleet.comparisons.iter().zip(&single.comparisons) {
            assert_eq!((&f.variant, f.metric), (&s.variant, s.metric));
            // The same sums in another order: equal up to rounding.
            match (&f.result, &s.result) {
                (Ok(f), Ok(s)) => {
                    assert_eq!((f.n_control, f.n_treatment), (s.n_control, s.n_treatment));
                    for (x, y) in [(f.diff, s.diff), (f.std_error, s.std_error)] {
                        assert!((x - y).abs() <= 1e-12 * y.abs().max(1.0), "{f:?} vs {s:?}");
                    }
                }
                (f, s) => assert_eq!(f.is_ok(), s.is_ok(), "{f:?} vs {s:?}"),
            }
        }
        assert_eq!(fleet.variants[0].users, 600);
        assert_eq!(fleet.variants[0].impressions, 6_500);
        // Alone, process one's report covers its share only.
        assert_eq!(report(&design(), &one).variants[0].users, 300);
    }

    /// What a published tally costs per user of a running experiment (docs/deploy.md):
    /// `cargo test -p recd-attribution --lib fleet::tests::bytes_per_user -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn bytes_per_user() {
        let mut tally = Tally::new(60_000, 1 << 20);
        served(&mut tally, "a", 0..50_000, 10);
        served(&mut tally, "b", 0..50_000, 10);
        let bytes = Snapshot::of(&tally, 0).encode().len();
        println!(
            "{bytes} bytes for 100,000 user-variant tallies (ids u0..u49999): {:.1} bytes each",
            bytes as f64 / 100_000.0
        );
    }
}
