//! The embedded store's memory budget: a flood of new user ids keeps it under the budget, the
//! least recently active users go first, and an evicted user starts again from their next event.

use recd_features::heap::HeapSize;
use recd_features::{Batch, EmbeddedStore, FeatureConfig, FeatureStore, LoggedEvent, UserVector};
use recd_types::{Event, EventKind, ItemId, UserId};

const BUDGET_MB: u64 = 4;
/// Users in the flood: one million, each with one view (a few seconds in the test profile).
const N_USERS: u64 = 1_000_000;
/// The updater's default batch: fewer new users than a shard holds, so a user read between
/// batches stays.
const PER_BATCH: u64 = 1_000;

fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    now.as_millis() as i64
}

fn uid(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn view(offset: u64, user: &str, item: u64, now: i64) -> LoggedEvent {
    let item = ItemId::parse(format!("item-{item}")).unwrap();
    let mut event = Event::new(uid(user), Some(item), EventKind::View, now - 1_000);
    event.session_id = Some(format!("session-{offset}"));
    event.context.page = Some("home".into());
    LoggedEvent {
        offset,
        event,
        category: Some("books".into()),
    }
}

fn batch(first_offset: u64, events: Vec<LoggedEvent>, now: i64) -> Batch {
    Batch {
        first_offset,
        next_offset: first_offset + events.len() as u64,
        events,
        now_ms: now,
    }
}

/// Gives every user a 64-dimensional vector, as the fold-in does once a model is loaded.
struct Vectors;

impl recd_features::FoldIn for Vectors {
    fn fold_in(&self, _: &recd_features::UserFeatures) -> Option<UserVector> {
        Some(UserVector {
            model_version: "v1".into(),
            values: vec![0.5; 64],
            n_items: 1,
            computed_at_ms: 0,
        })
    }
}

#[tokio::test]
async fn a_flood_of_a_million_new_users_stays_within_the_budget() {
    let now = now_ms();
    let config = FeatureConfig {
        memory_budget_mb: BUDGET_MB,
        ..FeatureConfig::default()
    };
    let store = EmbeddedStore::new(config);
    let budget = store.memory_bytes().1;
    assert_eq!(budget as u64, BUDGET_MB << 20);
    // A regular user, read on every batch as a recommendation request would read them.
    store
        .apply(&batch(0, vec![view(0, "regular", 1, now)], now), None)
        .await
        .unwrap();
    let mut offset = 1;
    while offset <= N_USERS {
        let events = (offset..offset + PER_BATCH)
            .map(|o| view(o, &format!("flood-{o}"), o % 1_000, now))
            .collect();
        store
            .apply(&batch(offset, events, now), Some(&Vectors))
            .await
            .unwrap();
        offset += PER_BATCH;
        let (used, _) = store.memory_bytes();
        assert!(used <= budget, "{used} > {budget} after {offset} users");
        assert!(store.user(&uid("regular"), now).await.unwrap().is_some());
    }
    let held = store.n_users();
    assert!(held > 1_000, "only {held} users held");
    assert!((held as u64) < N_USERS / 10, "{held} users held");
    // The newest are held, the oldest were dropped, and what is held is what the budget says.
    let newest = format!("flood-{}", offset - 1);
    let kept = store.user(&uid(&newest), now).await.unwrap().unwrap();
    assert!(store.user(&uid("flood-1"), now).await.unwrap().is_none());
    let per_user = kept.heap_bytes();
    assert!(
        store.memory_bytes().0 >= held * per_user,
        "the charge covers at least each user's heap ({per_user} bytes)"
    );

    // An evicted user starts from their next event alone.
    let again = view(offset, "flood-1", 7, now);
    store
        .apply(&batch(offset, vec![again], now), None)
        .await
        .unwrap();
    let rebuilt = store.user(&uid("flood-1"), now).await.unwrap().unwrap();
    assert_eq!(rebuilt.counts.values().sum::<u64>(), 1);
    assert_eq!(rebuilt.last_offset, offset);
    assert_eq!(store.applied_offset().await.unwrap(), Some(offset + 1));
}
