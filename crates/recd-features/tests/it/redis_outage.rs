//! Redis-only behaviour: reads while the server is down.

use recd_features::testing::RedisServer;
use recd_features::{Batch, FeatureConfig, FeatureError, FeatureStore, LoggedEvent, RedisStore};
use recd_types::{Event, EventKind, ItemId, UserId};

fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    now.as_millis() as i64
}

#[tokio::test]
async fn reads_degrade_to_the_local_cache_while_redis_is_down() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&server.url(), FeatureConfig::default()).unwrap();
    let now = now_ms();
    let user = UserId::parse("u1").unwrap();
    let view = Event::new(
        user.clone(),
        Some(ItemId::parse("a").unwrap()),
        EventKind::View,
        now,
    );
    let batch = Batch {
        first_offset: 0,
        events: vec![LoggedEvent {
            offset: 0,
            event: view,
            category: None,
        }],
        next_offset: 1,
        now_ms: now,
    };
    store.apply(&batch, None).await.unwrap();
    store.ping().await.unwrap();

    server.stop();
    let cached = store
        .user(&user, now)
        .await
        .expect("served from the cache, not an error");
    assert_eq!(cached.unwrap().recent_views[0].value.as_str(), "a");
    let unknown = store.user(&UserId::parse("u2").unwrap(), now).await;
    assert!(
        matches!(unknown, Err(FeatureError::Unavailable(_))),
        "{unknown:?}"
    );
    assert!(matches!(
        store.apply(&batch, None).await,
        Err(FeatureError::Unavailable(_))
    ));

    // The server comes back empty (it persists nothing): the store says so, which is how
    // the updater knows to replay the log.
    server.restart();
    let mut offset = store.applied_offset().await;
    for _ in 0..50 {
        if offset.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        offset = store.applied_offset().await;
    }
    assert_eq!(offset.unwrap(), None);

    // A writer that did not notice (it applies the next stretch) is told, and the offset is
    // cleared so that the replay starts from the beginning.
    let next = Batch {
        first_offset: 1,
        next_offset: 2,
        ..batch.clone()
    };
    let lost = store.apply(&next, None).await;
    assert!(
        matches!(
            lost,
            Err(FeatureError::StateLost {
                expected: 1,
                found: None
            })
        ),
        "{lost:?}"
    );
    assert_eq!(store.applied_offset().await.unwrap(), None);
}
