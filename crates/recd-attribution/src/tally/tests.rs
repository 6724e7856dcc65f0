use recd_types::{Event, EventKind, Impression, ItemId, Shown, Surface, UserId};

use super::*;

const T0: i64 = 1_700_000_000_000;

pub(crate) fn shown(
    request_id: &str,
    user: &str,
    label: &str,
    items: &[&str],
    at_ms: i64,
) -> Impression {
    Impression {
        request_id: request_id.into(),
        at_ms,
        surface: Surface::Recommendations,
        user_id: Some(UserId::parse(user).unwrap()),
        item_id: None,
        experiments: vec![label.into()],
        model_version: Some("v1".into()),
        context: Some("homepage".into()),
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
        latency_us: 1500,
    }
}

pub(crate) fn event(
    user: &str,
    item: &str,
    kind: EventKind,
    request_id: Option<&str>,
    at_ms: i64,
) -> Event {
    let mut e = Event::new(
        UserId::parse(user).unwrap(),
        Some(ItemId::parse(item).unwrap()),
        kind,
        at_ms,
    );
    e.request_id = request_id.map(String::from);
    e
}

#[test]
fn events_join_their_impression_by_request_id_once_per_item_and_kind() {
    let mut t = Tally::new(3_600_000, 1000);
    t.impression(&shown("r1", "u1", "exp/a", &["i1", "i2", "i3"], T0), 2);
    assert!(t.event(&event("u1", "i2", EventKind::Click, Some("r1"), T0 + 10)));
    // A view is not a click; a second click of the same showing's item is the same click.
    assert!(t.event(&event("u1", "i3", EventKind::View, Some("r1"), T0 + 20)));
    assert!(t.event(&event("u1", "i2", EventKind::Click, Some("r1"), T0 + 30)));
    assert!(t.event(&event(
        "u1",
        "i2",
        EventKind::AddToCart,
        Some("r1"),
        T0 + 40
    )));
    assert!(t.event(&event("u1", "i2", EventKind::Purchase, Some("r1"), T0 + 50)));
    // Not shown by r1: not a click on it.
    assert!(t.event(&event("u1", "i9", EventKind::Click, Some("r1"), T0 + 60)));
    // Not an engagement at all.
    assert!(t.event(&event("u1", "i1", EventKind::Skip, Some("r1"), T0 + 70)));
    let v = t.variant("exp/a").unwrap();
    let u = v.users["u1"];
    assert_eq!(
        (
            u.answers,
            u.impressions,
            u.clicks,
            u.add_to_cart,
            u.conversions
        ),
        (1, 3, 1, 1, 1)
    );
    assert_eq!(v.totals, u);
    assert_eq!(v.answers.answers, 1);
    assert_eq!(v.answers.categories, 2);
    // Every click, cart or purchase citing r1 joined it, counted or not.
    assert_eq!(t.joins.by_request_id, 5);
}

#[test]
fn an_unknown_request_id_is_reported_so_the_caller_can_retry() {
    let mut t = Tally::new(3_600_000, 1000);
    assert!(!t.event(&event("u1", "i1", EventKind::Click, Some("r-later"), T0)));
    t.impression(&shown("r-later", "u1", "exp/a", &["i1"], T0 - 5), 1);
    assert!(t.event(&event("u1", "i1", EventKind::Click, Some("r-later"), T0)));
    assert_eq!(t.variant("exp/a").unwrap().users["u1"].clicks, 1);
}

#[test]
fn without_a_request_id_the_newest_showing_of_the_item_within_the_window_counts() {
    let mut t = Tally::new(600_000, 1000);
    t.impression(&shown("r1", "u1", "exp/a", &["i1", "i2"], T0), 1);
    t.impression(&shown("r2", "u1", "exp/b", &["i2", "i3"], T0 + 1000), 1);
    // i2 was in both: the newer showing (variant b) gets it.
    assert!(t.event(&event("u1", "i2", EventKind::Click, None, T0 + 2000)));
    // i1 only in r1.
    assert!(t.event(&event("u1", "i1", EventKind::Click, None, T0 + 3000)));
    // Another user's click on a shown item is not attributed to u1's list.
    assert!(t.event(&event("u2", "i3", EventKind::Click, None, T0 + 3000)));
    // Past the window: not attributed.
    assert!(t.event(&event(
        "u1",
        "i3",
        EventKind::Click,
        None,
        T0 + 1000 + 600_001
    )));
    assert_eq!(t.variant("exp/a").unwrap().users["u1"].clicks, 1);
    assert_eq!(t.variant("exp/b").unwrap().users["u1"].clicks, 1);
    assert_eq!(t.joins.by_window, 2);
}

#[test]
fn impressions_past_the_window_or_the_cap_are_forgotten() {
    let mut t = Tally::new(1000, 3);
    for n in 0..5 {
        t.impression(&shown(&format!("r{n}"), "u1", "exp/a", &["i1"], T0 + n), 0);
    }
    assert_eq!(t.kept(), 3);
    assert!(!t.knows("r0") && !t.knows("r1") && t.knows("r4"));
    t.expire(T0 + 4 + 1001);
    assert_eq!(t.kept(), 0);
    // The counts stay: forgetting is about attribution, not about the report.
    assert_eq!(t.variant("exp/a").unwrap().users["u1"].answers, 5);
}

#[test]
fn latency_quantiles_come_from_the_buckets() {
    let mut t = Tally::new(1000, 100);
    for n in 0..100 {
        let mut i = shown(&format!("r{n}"), "u1", "exp/a", &["i1"], T0);
        i.latency_us = if n < 99 { 1000 } else { 80_000 };
        t.impression(&i, 0);
    }
    let a = &t.variant("exp/a").unwrap().answers;
    let p50 = a.latency_quantile_ms(0.5).unwrap();
    let p100 = a.latency_quantile_ms(1.0).unwrap();
    assert!((1.0..1.3).contains(&p50), "{p50}");
    assert!((80.0..100.0).contains(&p100), "{p100}");
}

#[test]
fn live_counts_leave_out_the_rebuild() {
    let mut t = Tally::new(3_600_000, 1000);
    t.count_live_from(T0 + 1_000);
    // Replayed: an answer from before the start, and a click on it.
    t.impression(&shown("old", "u1", "e/a", &["i1", "i2"], T0), 1);
    assert!(t.event(&event(
        "u1",
        "i1",
        EventKind::Click,
        Some("old"),
        T0 + 2_000
    )));
    // Live: three items shown, two clicks on one (counted once), one purchase (not a click).
    t.impression(
        &shown("new", "u1", "e/a", &["i1", "i2", "i3"], T0 + 1_000),
        1,
    );
    for kind in [EventKind::Click, EventKind::Click, EventKind::Purchase] {
        assert!(t.event(&event("u1", "i2", kind, Some("new"), T0 + 3_000)));
    }
    assert_eq!((t.live.shown, t.live.clicked), (3, 1));
    // The experiment's totals count both answers.
    assert_eq!(t.variant("e/a").unwrap().totals.impressions, 5);
}
