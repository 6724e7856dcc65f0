//! Negatives from impressions: the items a user was shown and did not engage with.
//!
//! The ranker learns from each user's tail (the newest part of their history) what the head
//! predicts. Where the impressions log recorded what that user was shown during their tail,
//! the items shown and not engaged with are real negatives ("viewed but did not click"), better
//! than the generators' unlabelled candidates; [`crate::ranker::collect`] uses them for such
//! users and keeps generated negatives for the others.

use std::collections::{HashMap, HashSet};

use recd_store::EventLog;
use recd_types::{EventKind, Record};

use crate::TrainError;
use crate::dataset::{Dataset, Interaction};

/// Per user row, the item rows shown to them from the start of their tail on, above an item
/// they clicked in the same list ("skipped above a click": seen, most likely, and passed
/// over), minus every item they interacted with in the tail. Items below the last click, or
/// in a list without one, say nothing: the user may never have looked that far.
pub fn negatives(
    impressions: &dyn EventLog,
    events: &dyn EventLog,
    ds: &Dataset,
    tail: &[Interaction],
) -> Result<HashMap<u32, HashSet<u32>>, TrainError> {
    let mut tail_start: HashMap<u32, i64> = HashMap::new();
    let mut engaged: HashMap<u32, HashSet<u32>> = HashMap::new();
    for i in tail {
        let start = tail_start.entry(i.user).or_insert(i.ts);
        *start = (*start).min(i.ts);
        engaged.entry(i.user).or_default().insert(i.item);
    }
    // Nothing before the earliest tail counts: neither log is read before it (less a day,
    // for clients whose clocks run behind the server's).
    let Some(&earliest) = tail_start.values().min() else {
        return Ok(HashMap::new());
    };
    let from_ms = earliest.saturating_sub(86_400_000);
    // The items each answer led to a click, cart or purchase of.
    let mut engaged_in: HashMap<String, HashSet<String>> = HashMap::new();
    let events_end = events.end_offset();
    for next in events.read_from(events.offset_for_time(from_ms))? {
        let (offset, record) = next?;
        if offset >= events_end {
            break;
        }
        if let Record::Event(e) = record
            && matches!(
                e.kind,
                EventKind::Click | EventKind::AddToCart | EventKind::Purchase
            )
            && let (Some(request), Some(item)) = (e.request_id, e.item_id)
        {
            engaged_in
                .entry(request)
                .or_default()
                .insert(item.as_str().to_string());
        }
    }
    let users: HashMap<&str, u32> = ds
        .users
        .iter()
        .enumerate()
        .map(|(k, u)| (u.as_str(), k as u32))
        .collect();
    let items: HashMap<&str, u32> = ds
        .items
        .iter()
        .enumerate()
        .map(|(k, i)| (i.as_str(), k as u32))
        .collect();
    let mut out: HashMap<u32, HashSet<u32>> = HashMap::new();
    let end = impressions.end_offset();
    for next in impressions.read_from(impressions.offset_for_time(from_ms))? {
        let (offset, record) = next?;
        if offset >= end {
            break;
        }
        let Record::Impression(shown) = record else {
            continue;
        };
        let Some(&user) = shown.user_id.as_ref().and_then(|u| users.get(u.as_str())) else {
            continue;
        };
        if tail_start.get(&user).is_none_or(|&t| shown.at_ms < t) {
            continue;
        }
        let Some(clicked) = engaged_in.get(&shown.request_id) else {
            continue;
        };
        let Some(last_click) = shown
            .items
            .iter()
            .filter(|s| clicked.contains(s.item_id.as_str()))
            .map(|s| s.position)
            .max()
        else {
            continue;
        };
        let seen = engaged.get(&user);
        let negatives = out.entry(user).or_default();
        for s in shown.items.iter().filter(|s| s.position < last_click) {
            if let Some(&item) = items.get(s.item_id.as_str())
                && seen.is_none_or(|e| !e.contains(&item))
                && !clicked.contains(s.item_id.as_str())
            {
                negatives.insert(item);
            }
        }
    }
    out.retain(|_, n| !n.is_empty());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use recd_store::{FileLog, LogConfig};
    use recd_types::{Event, Impression, ItemId, Shown, Surface, UserId};

    use super::*;
    use crate::dataset::Ctx;

    fn shown(request: &str, user: &str, items: &[&str], at_ms: i64) -> Record {
        Record::Impression(Impression {
            request_id: request.into(),
            at_ms,
            surface: Surface::Recommendations,
            user_id: Some(UserId::parse(user).unwrap()),
            item_id: None,
            experiments: Vec::new(),
            model_version: None,
            context: None,
            device: None,
            category: None,
            items: items
                .iter()
                .enumerate()
                .map(|(p, i)| Shown {
                    item_id: ItemId::parse(*i).unwrap(),
                    position: p as u32,
                    source: "als".into(),
                    score: 1.0,
                })
                .collect(),
            cold: false,
            fallback: false,
            degraded: false,
            cached: false,
            latency_us: 1,
        })
    }

    fn click(user: &str, item: &str, request: &str, at_ms: i64) -> Record {
        let mut e = Event::new(
            UserId::parse(user).unwrap(),
            Some(ItemId::parse(item).unwrap()),
            EventKind::Click,
            at_ms,
        );
        e.request_id = Some(request.into());
        Record::Event(e)
    }

    #[test]
    fn only_items_skipped_above_a_click_in_the_tail_are_negatives() {
        let dir = tempfile::tempdir().unwrap();
        let impressions = FileLog::open(dir.path().join("i"), LogConfig::default()).unwrap();
        let events = FileLog::open(dir.path().join("e"), LogConfig::default()).unwrap();
        let ds = Dataset {
            users: vec!["u0".into(), "u1".into()],
            items: ["a", "b", "c", "d", "e"].map(String::from).to_vec(),
            ..Dataset::default()
        };
        let at = |user, item, ts| Interaction {
            user,
            item,
            ts,
            signal: 1.0,
            ctx: Ctx::default(),
        };
        // u0's tail starts at 100 and holds d (clicked from r1) and e; u1's at 500.
        let tail = [at(0, 3, 100), at(0, 4, 150), at(1, 0, 500)];
        impressions
            .append(&[
                // Before u0's tail: says nothing.
                shown("r0", "u0", &["a", "b", "d"], 50),
                // a, b and e above the click on d: a and b are negatives, e was engaged with.
                shown("r1", "u0", &["a", "e", "b", "d", "c"], 120),
                // No click in this list: nothing.
                shown("r2", "u0", &["c"], 130),
                // u1's list is before their tail.
                shown("r3", "u1", &["b", "a"], 400),
            ])
            .unwrap();
        events
            .append(&[
                click("u0", "d", "r1", 121),
                click("u0", "b", "r0", 60),
                click("u1", "a", "r3", 401),
            ])
            .unwrap();
        let n = negatives(&impressions, &events, &ds, &tail).unwrap();
        assert_eq!(n.len(), 1, "{n:?}");
        assert_eq!(
            n[&0],
            HashSet::from([0, 1]),
            "a and b, not c below the click"
        );
    }
}
