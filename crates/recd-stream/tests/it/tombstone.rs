//! A user's tombstone in the log: the live updater drops the user's state at it, events after
//! it start a new state, and a replay after a restart ends the same way.

use std::sync::Arc;

use recd_features::testing::RedisServer;
use recd_features::{EmbeddedStore, FeatureConfig, FeatureStore, RedisStore};
use recd_stream::{StreamConfig, Updater};
use recd_types::UserId;

use crate::support::{append, events, now_ms, open_store, snapshot};

const N_USERS: usize = 5;

fn updater(store: &Arc<recd_store::Store>, features: Arc<dyn FeatureStore>) -> Updater {
    // Small batches, so tombstones fall inside and at the edges of batches.
    let config = StreamConfig {
        batch_max_records: 7,
        ..StreamConfig::default()
    };
    Updater::new(store.log().clone(), features, Arc::new(()), None, config)
}

async fn delete(store: &Arc<recd_store::Store>, user: &str) {
    let store = store.clone();
    let user = UserId::parse(user).unwrap();
    tokio::task::spawn_blocking(move || store.delete_user(user, now_ms()))
        .await
        .unwrap()
        .expect("delete")
        .expect("a known user");
}

async fn check(features: impl Fn() -> Arc<dyn FeatureStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    append(&store, events(0, 40, N_USERS)).await;
    delete(&store, "u1").await;
    delete(&store, "u2").await;
    // Only u2 comes back: one event, after its tombstone.
    let mut back = events(2, 1, N_USERS);
    back[0].user_id = UserId::parse("u2").unwrap();
    append(&store, back).await;
    append(&store, events(100, 3, 1)).await;

    let live = features();
    assert_eq!(updater(&store, live.clone()).catch_up().await.unwrap(), 46);
    let after = snapshot(&*live, N_USERS).await;
    assert!(after[1].is_none(), "u1 is gone");
    let u2 = after[2].as_ref().expect("u2 came back");
    assert_eq!(u2.counts.values().sum::<u64>(), 1, "a new state: {u2:?}");
    assert_eq!(u2.last_offset, 42);
    assert!(after[0].is_some() && after[3].is_some());

    // A fresh store replayed from the log ends the same way.
    let replayed = features();
    if replayed.applied_offset().await.unwrap().is_none() {
        updater(&store, replayed.clone()).catch_up().await.unwrap();
        assert_eq!(snapshot(&*replayed, N_USERS).await, after);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_updater_applies_tombstones_live_and_on_replay() {
    check(|| Arc::new(EmbeddedStore::new(FeatureConfig::default()))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_updater_applies_tombstones() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let url = server.url();
    let mut config = FeatureConfig::default();
    config.redis.cache_ttl_ms = 0;
    check(move || Arc::new(RedisStore::open(&url, config.clone()).unwrap())).await;
}
