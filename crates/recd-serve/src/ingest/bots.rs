//! Flags events that come faster than a person can produce them (`[serve.bots]`): per user,
//! a rate ceiling on *event time*, so a bulk import of history at its real pace is not
//! flagged while a client posting thousands of views stamped within seconds is.
//!
//! The ceiling is a GCRA over each user's event timestamps: every event moves the user's
//! theoretical arrival time `tat` on by one interval (60 s / the ceiling); an event whose time
//! is more than one minute's allowance behind `tat` is over the ceiling. Flagged events stay
//! in the log (nothing acknowledged is dropped); training and trending leave them out.

use std::collections::HashMap;
use std::sync::Mutex;

use recd_types::{Event, TimestampMs};
use serde::{Deserialize, Serialize};

/// `[serve.bots]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotConfig {
    /// Most events one user may produce per minute of event time before the rest are flagged
    /// (left out of training and trending, counted in `recd_events_flagged_total`); 0 = off.
    pub max_events_per_user_per_min: u32,
    /// Users tracked at once; past it, those idle longest (in event time) are forgotten.
    pub max_tracked_users: usize,
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            max_events_per_user_per_min: 600,
            max_tracked_users: 1_000_000,
        }
    }
}

const MINUTE_MS: i64 = 60_000;

/// The per-user state of the ceiling.
pub struct BotFilter {
    config: BotConfig,
    /// User → theoretical arrival time (ms of event time).
    tat: Mutex<HashMap<String, TimestampMs>>,
}

impl BotFilter {
    /// A filter with `config`.
    pub fn new(config: BotConfig) -> Self {
        Self {
            config,
            tat: Mutex::new(HashMap::new()),
        }
    }

    /// Positions of `events` over their user's ceiling, in order. Counts them.
    pub fn over_ceiling(&self, events: &[Event]) -> Vec<usize> {
        let per_min = self.config.max_events_per_user_per_min;
        if per_min == 0 {
            return Vec::new();
        }
        let interval = (MINUTE_MS / i64::from(per_min)).max(1);
        let allowance = MINUTE_MS - interval;
        let mut tat = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        let mut flagged = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let t = e.timestamp_ms;
            let user_tat = tat.entry(e.user_id.as_str().to_string()).or_insert(t);
            let next = (*user_tat).max(t);
            if next - t > allowance {
                flagged.push(i);
            } else {
                *user_tat = next + interval;
            }
        }
        if tat.len() > self.config.max_tracked_users.max(2) {
            forget_idle(&mut tat, self.config.max_tracked_users.max(2) / 2);
        }
        if !flagged.is_empty() {
            metrics::counter!("recd_events_flagged_total", "reason" => "rate")
                .increment(flagged.len() as u64);
        }
        flagged
    }
}

/// Keeps about the `keep` users whose `tat` is latest (the ones still near their ceiling).
fn forget_idle(tat: &mut HashMap<String, TimestampMs>, keep: usize) {
    let mut times: Vec<TimestampMs> = tat.values().copied().collect();
    if times.len() <= keep {
        return;
    }
    let cut = times.len() - keep;
    let (_, &mut threshold, _) = times.select_nth_unstable(cut);
    tat.retain(|_, t| *t >= threshold);
}

#[cfg(test)]
mod tests {
    use recd_types::{EventKind, ItemId, UserId};

    use super::*;

    fn view(user: &str, t: TimestampMs) -> Event {
        Event::new(
            UserId::parse(user).unwrap(),
            Some(ItemId::parse("i").unwrap()),
            EventKind::View,
            t,
        )
    }

    #[test]
    fn a_burst_over_the_ceiling_is_flagged_and_a_human_pace_is_not() {
        let f = BotFilter::new(BotConfig {
            max_events_per_user_per_min: 60,
            ..Default::default()
        });
        let t0 = 1_700_000_000_000;
        // 1,000 views within one second: the first minute's allowance passes, the rest not.
        let bot: Vec<Event> = (0..1000).map(|i| view("bot", t0 + i)).collect();
        let flagged = f.over_ceiling(&bot);
        assert_eq!(flagged.len(), 1000 - 60, "{}", flagged.len());
        assert_eq!(flagged[0], 60);
        // A person: one view every 5 s for an hour, sent in one batch (an import of history).
        let human: Vec<Event> = (0..720).map(|i| view("human", t0 + i * 5_000)).collect();
        assert!(f.over_ceiling(&human).is_empty());
        // The bot, two minutes later in event time, has its allowance back.
        let later: Vec<Event> = (0..10).map(|i| view("bot", t0 + 120_000 + i)).collect();
        assert!(f.over_ceiling(&later).is_empty());
    }

    #[test]
    fn zero_turns_it_off_and_the_user_map_is_bounded() {
        let off = BotFilter::new(BotConfig {
            max_events_per_user_per_min: 0,
            ..Default::default()
        });
        let burst: Vec<Event> = (0..5000).map(|i| view("b", i)).collect();
        assert!(off.over_ceiling(&burst).is_empty());
        let f = BotFilter::new(BotConfig {
            max_events_per_user_per_min: 600,
            max_tracked_users: 100,
        });
        for i in 0..1000 {
            f.over_ceiling(&[view(&format!("u{i}"), 1_700_000_000_000 + i)]);
        }
        let tracked = f.tat.lock().unwrap().len();
        assert!(tracked <= 101, "{tracked}");
    }
}
