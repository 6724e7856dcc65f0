//! The embedded store's memory budget and the updater's idempotent replay: a user dropped for
//! room starts again from their next event, and neither a restart nor a replay of the whole
//! log applies an event twice.

use std::sync::Arc;

use recd_features::{Batch, EmbeddedStore, FeatureConfig, FeatureStore, LoggedEvent, UserFeatures};
use recd_stream::{StreamConfig, Updater};
use recd_types::{Event, EventKind, ItemId, UserId};

use crate::support::{append, now_ms, open_store, replayed};

const N_FLOOD: usize = 20_000;

fn view(user: &str, item: usize, ts: i64) -> Event {
    Event::new(
        UserId::parse(user).unwrap(),
        Some(ItemId::parse(format!("i{item}")).unwrap()),
        EventKind::View,
        ts,
    )
}

fn updater(store: &Arc<recd_store::Store>, features: Arc<dyn FeatureStore>) -> Updater {
    Updater::new(
        store.log().clone(),
        features,
        Arc::new(()),
        None,
        StreamConfig::default(),
    )
}

async fn user(features: &dyn FeatureStore, id: &str) -> Option<UserFeatures> {
    let id = UserId::parse(id).unwrap();
    features.user(&id, now_ms()).await.unwrap()
}

fn n_events(f: &UserFeatures) -> u64 {
    f.counts.values().sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicted_user_is_rebuilt_from_new_events_and_nothing_is_applied_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let ts = now_ms() - 60_000;
    // "watched" acts first; then a flood of new users, one view each, pushes them out.
    let mut log: Vec<Event> = (0..3).map(|i| view("watched", i, ts + i as i64)).collect();
    log.extend((0..N_FLOOD).map(|n| view(&format!("flood-{n}"), n % 50, ts + 10)));
    append(&store, log.clone()).await;
    let config = FeatureConfig {
        memory_budget_mb: 2,
        ..FeatureConfig::default()
    };
    let features = Arc::new(EmbeddedStore::new(config));
    let mut up = updater(&store, features.clone());
    up.catch_up().await.unwrap();
    assert!(user(&*features, "watched").await.is_none(), "evicted");
    let held = features.n_users();
    assert!((100..N_FLOOD).contains(&held), "{held} users held");

    // Their next events rebuild them, from empty.
    let later = vec![view("watched", 10, ts + 20), view("watched", 11, ts + 21)];
    append(&store, later.clone()).await;
    log.extend(later);
    up.catch_up().await.unwrap();
    let rebuilt = user(&*features, "watched").await.expect("rebuilt");
    assert_eq!(n_events(&rebuilt), 2);
    assert_eq!(rebuilt.last_offset, log.len() as u64 - 1);

    // A restarted updater resumes at the store's applied offset, which eviction left alone.
    let end = store.log().end_offset();
    let mut restarted = updater(&store, features.clone());
    assert_eq!(restarted.catch_up().await.unwrap(), end);
    assert_eq!(restarted.position(), Some(end));
    assert_eq!(user(&*features, "watched").await, Some(rebuilt.clone()));

    // Even the whole log applied again (retried batches, of the updater's size): the rebuilt
    // user skips every older offset, held users skip theirs, and evicted ones come back from
    // their one event. "watched" is read between batches, as requests would, so the users
    // coming back do not push them out again.
    let logged: Vec<LoggedEvent> = log
        .into_iter()
        .enumerate()
        .map(|(offset, event)| LoggedEvent {
            offset: offset as u64,
            event,
            category: None,
        })
        .collect();
    for chunk in logged.chunks(StreamConfig::default().batch_max_records) {
        let replay = Batch {
            first_offset: chunk[0].offset,
            events: chunk.to_vec(),
            next_offset: chunk[chunk.len() - 1].offset + 1,
            now_ms: now_ms(),
        };
        features.apply(&replay, None).await.unwrap();
        assert_eq!(user(&*features, "watched").await.as_ref(), Some(&rebuilt));
    }
    let truth = replayed(&store).await;
    let mut compared = 0;
    for n in 0..N_FLOOD {
        let id = format!("flood-{n}");
        if let Some(f) = user(&*features, &id).await {
            assert_eq!(n_events(&f), 1, "{id}");
            assert_eq!(Some(f), user(&*truth, &id).await, "{id}");
            compared += 1;
        }
    }
    assert!(compared >= 100, "{compared}");
}
