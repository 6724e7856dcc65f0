//! The dedupe window: claims, duplicates, expiry, the cap, release, and the rebuild from a log.

use std::sync::Arc;

use recd_store::{Store, StoreConfig};
use recd_types::{Event, EventKind, ItemId, UserId};

use super::*;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

const WINDOW_MS: i64 = 1_000;

fn ready(c: Claimed) -> (Vec<usize>, Vec<(usize, Offset)>) {
    match c {
        Claimed::Ready { fresh, seen } => (fresh, seen),
        Claimed::Busy => panic!("busy"),
    }
}

#[test]
fn a_completed_id_is_a_duplicate_with_its_offset() {
    let w = DedupeWindow::new(WINDOW_MS, 10);
    let (fresh, seen) = ready(w.claim(&[Some("a"), None, Some("b")], 0));
    assert_eq!((fresh, seen), (vec![0, 2], vec![]));
    w.complete(&["a", "b"], &[7, 8], 0);
    let (fresh, seen) = ready(w.claim(&[Some("c"), Some("b"), Some("a")], 10));
    assert_eq!((fresh, seen), (vec![0], vec![(1, 8), (2, 7)]));
}

#[test]
fn a_pending_id_makes_the_whole_batch_wait_and_a_release_frees_it() {
    let w = DedupeWindow::new(WINDOW_MS, 10);
    ready(w.claim(&[Some("a")], 0));
    assert_eq!(w.claim(&[Some("x"), Some("a")], 0), Claimed::Busy);
    assert_eq!(w.len(), 1, "nothing of the busy batch was claimed");
    w.release(&["a"]);
    assert_eq!(ready(w.claim(&[Some("x"), Some("a")], 0)).0, vec![0, 1]);
}

#[tokio::test]
async fn a_dropped_guard_releases_and_a_completed_one_does_not() {
    let w = Arc::new(DedupeWindow::new(WINDOW_MS, 10));
    let dedupe = Dedupe::Local(w.clone());
    let ids = |names: &[&str]| -> Vec<Option<(u32, String)>> {
        names.iter().map(|n| Some((0, n.to_string()))).collect()
    };
    let (guard, seen) = dedupe.claim(ids(&["a"])).await.unwrap();
    assert!(seen.is_empty());
    drop(guard);
    let (guard, _) = dedupe.claim(ids(&["x", "b"])).await.unwrap();
    guard.complete(|pos| [2, 3][pos]).await;
    let (fresh, seen) = ready(w.claim(&[Some("a"), Some("b")], now_ms()));
    assert_eq!((fresh, seen), (vec![0], vec![(1, 3)]));
}

#[test]
fn entries_expire_after_the_window() {
    let w = DedupeWindow::new(WINDOW_MS, 10);
    ready(w.claim(&[Some("a")], 0));
    w.complete(&["a"], &[1], 0);
    assert_eq!(ready(w.claim(&[Some("a")], WINDOW_MS)).1, vec![(0, 1)]);
    assert_eq!(ready(w.claim(&[Some("a")], WINDOW_MS + 1)).0, vec![0]);
    // Completed again after expiry: the new stamp counts, not the old one.
    w.complete(&["a"], &[5], WINDOW_MS + 1);
    assert_eq!(ready(w.claim(&[Some("a")], WINDOW_MS + 2)).1, vec![(0, 5)]);
}

#[test]
fn past_the_cap_the_oldest_go_first() {
    let w = DedupeWindow::new(WINDOW_MS, 3);
    for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
        ready(w.claim(&[Some(id)], i as i64));
        w.complete(&[id], &[i as u64], i as i64);
    }
    assert_eq!(w.len(), 3);
    let (fresh, seen) = ready(w.claim(&[Some("a"), Some("d")], 5));
    assert_eq!((fresh, seen), (vec![0], vec![(1, 3)]));
}

#[test]
fn a_zero_cap_remembers_nothing() {
    let w = DedupeWindow::new(WINDOW_MS, 0);
    ready(w.claim(&[Some("a")], 0));
    w.complete(&["a"], &[1], 0);
    assert!(w.is_empty());
    assert_eq!(ready(w.claim(&[Some("a")], 0)).0, vec![0]);
}

#[test]
fn a_rebuilt_window_knows_the_ids_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let now = 1_700_000_000_000;
    let event = |id: Option<&str>, ts| {
        let mut e = Event::new(
            UserId::parse("u").unwrap(),
            Some(ItemId::parse("i").unwrap()),
            EventKind::View,
            ts,
        );
        e.event_id = id.map(String::from);
        e
    };
    store
        .append_events(vec![
            event(Some("old-ts"), 5),
            event(None, now),
            event(Some("recent"), now - 10),
        ])
        .unwrap();
    let w = DedupeWindow::rebuild(store.log().as_ref(), WINDOW_MS, 10, now).unwrap();
    assert_eq!(w.len(), 2);
    let (fresh, seen) = ready(w.claim(&[Some("recent"), Some("old-ts"), Some("new")], now));
    assert_eq!((fresh, seen), (vec![2], vec![(0, 2), (1, 0)]));
    // The recent one is stamped with its time, the old-stamped one with the rebuild's.
    let (_, seen) = ready(w.claim(&[Some("recent"), Some("old-ts")], now + WINDOW_MS));
    assert_eq!(seen, vec![(1, 0)]);
}
