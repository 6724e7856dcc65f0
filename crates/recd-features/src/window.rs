//! Sliding-window engagement counters (1 h and 24 h) for trending items and categories.
//!
//! Counts are kept in minute buckets for the last hour and hour buckets for the last day, by
//! event time, so a counter is a pure function of the events applied to it (a replay gives
//! the same counts) and costs at most 84 small buckets. The 24 h window is therefore exact to
//! the hour: it counts the hour bucket that `now` falls in and the 23 before it.

use recd_types::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::Offset;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// A trending window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Window {
    /// The last hour (minute resolution).
    #[serde(rename = "1h")]
    Hour,
    /// The last 24 hours (hour resolution).
    #[serde(rename = "24h")]
    Day,
}

impl Window {
    /// Both windows.
    pub const ALL: [Window; 2] = [Window::Hour, Window::Day];

    /// The name used in URLs and keys: `1h` or `24h`.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Hour => "1h",
            Window::Day => "24h",
        }
    }

    /// Parses `1h` or `24h`.
    pub fn parse(s: &str) -> Option<Self> {
        Window::ALL.into_iter().find(|w| w.as_str() == s)
    }
}

/// Engagement counts of one item or category by event time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowCounters {
    /// `(minute since epoch, count)`, oldest first, covering one hour before the newest.
    minutes: Vec<(i64, u64)>,
    /// `(hour since epoch, count)`, oldest first, covering one day before the newest.
    hours: Vec<(i64, u64)>,
    /// Category of the item when its newest event was applied (items only).
    pub category: Option<String>,
    /// Log offset of the newest event applied; older offsets are skipped on replay.
    pub last_offset: Option<Offset>,
    /// On a partitioned bus, the offset of the newest event applied from each partition
    /// (offsets of different partitions are not comparable; each partition's updater skips
    /// what it applied before, whatever the others did).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub partitions: std::collections::BTreeMap<u32, Offset>,
}

impl WindowCounters {
    /// Counts one event at `ts` logged at `offset`; returns false, changing nothing, when that
    /// offset was already applied. Buckets older than a day before the newest event are dropped.
    pub fn add(&mut self, offset: Offset, ts: TimestampMs) -> bool {
        self.add_from(None, offset, ts)
    }

    /// [`WindowCounters::add`] for an event of `partition` of a partitioned bus (`None`: the
    /// one log).
    pub fn add_from(&mut self, partition: Option<u32>, offset: Offset, ts: TimestampMs) -> bool {
        let seen = match partition {
            None => self.last_offset,
            Some(p) => self.partitions.get(&p).copied(),
        };
        if seen.is_some_and(|o| offset <= o) {
            return false;
        }
        match partition {
            None => self.last_offset = Some(offset),
            Some(p) => {
                self.partitions.insert(p, offset);
            }
        }
        bump(&mut self.minutes, ts.div_euclid(MINUTE_MS), 60);
        bump(&mut self.hours, ts.div_euclid(HOUR_MS), 24);
        true
    }

    /// Events in `window` ending at `now_ms`.
    pub fn count(&self, window: Window, now_ms: TimestampMs) -> u64 {
        let (buckets, now, span) = match window {
            Window::Hour => (&self.minutes, now_ms.div_euclid(MINUTE_MS), 60),
            Window::Day => (&self.hours, now_ms.div_euclid(HOUR_MS), 24),
        };
        buckets
            .iter()
            .filter(|(b, _)| *b <= now && *b > now - span)
            .map(|(_, n)| n)
            .sum()
    }

    /// Capacities of the minute and hour bucket vectors, for the memory estimate.
    pub(crate) fn bucket_capacities(&self) -> (usize, usize) {
        (self.minutes.capacity(), self.hours.capacity())
    }

    /// Time of the newest bucket's end: after this plus a day, every count is zero.
    pub fn newest_ms(&self) -> Option<TimestampMs> {
        self.hours.last().map(|(h, _)| (h + 1) * HOUR_MS)
    }
}

/// Adds one to bucket `b`, keeping buckets sorted and no older than `span` before the newest.
fn bump(buckets: &mut Vec<(i64, u64)>, b: i64, span: i64) {
    let newest = buckets.last().map_or(b, |(n, _)| (*n).max(b));
    if b <= newest - span {
        return; // Too old to count in any window that ends at or after the newest event.
    }
    match buckets.binary_search_by_key(&b, |(k, _)| *k) {
        Ok(i) => buckets[i].1 += 1,
        Err(i) => buckets.insert(i, (b, 1)),
    }
    let keep_from = buckets.partition_point(|(k, _)| *k <= newest - span);
    buckets.drain(..keep_from);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_slide_by_event_time() {
        let mut c = WindowCounters::default();
        let t0 = 1_700_000_000_000 / HOUR_MS * HOUR_MS;
        assert!(c.add(0, t0));
        assert!(c.add(1, t0 + 30 * MINUTE_MS));
        assert!(c.add(2, t0 + 2 * HOUR_MS));
        assert!(!c.add(2, t0 + 2 * HOUR_MS), "replayed offset is skipped");
        let now = t0 + 2 * HOUR_MS + 1;
        assert_eq!(c.count(Window::Hour, now), 1);
        assert_eq!(c.count(Window::Day, now), 3);
        assert_eq!(c.count(Window::Day, t0 + 25 * HOUR_MS), 1);
        assert_eq!(c.count(Window::Day, t0 + 27 * HOUR_MS), 0);
        // Events before the window start of the newest are not counted at all.
        c.add(3, t0 - 30 * HOUR_MS);
        assert_eq!(c.count(Window::Day, now), 3);
        assert_eq!(
            c.minutes.len(),
            1,
            "minute buckets older than an hour are dropped"
        );
    }

    #[test]
    fn partitions_skip_their_own_replays_only() {
        let mut c = WindowCounters::default();
        let t0 = 1_700_000_000_000;
        assert!(c.add_from(Some(0), 10, t0));
        assert!(
            c.add_from(Some(1), 5, t0),
            "another partition's lower offset counts"
        );
        assert!(
            !c.add_from(Some(0), 10, t0),
            "a partition's replay is skipped"
        );
        assert!(!c.add_from(Some(1), 4, t0));
        assert!(c.add_from(Some(0), 11, t0));
        assert_eq!(c.count(Window::Hour, t0), 3);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<WindowCounters>(&json).unwrap(), c);
    }

    #[test]
    fn windows_have_stable_names() {
        for w in Window::ALL {
            assert_eq!(Window::parse(w.as_str()), Some(w));
            assert_eq!(
                serde_json::to_string(&w).unwrap(),
                format!("\"{}\"", w.as_str())
            );
        }
    }
}
