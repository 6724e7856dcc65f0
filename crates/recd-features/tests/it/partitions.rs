//! Partition handles of the Redis store (`RedisStore::for_partition`): the updaters of a
//! partitioned bus write the shared item and category counters concurrently, and none of
//! their increments may be lost or applied twice.

use std::sync::Arc;

use recd_features::testing::{RedisCluster, RedisServer};
use recd_features::{Batch, FeatureConfig, FeatureStore, LoggedEvent, RedisStore, Window};
use recd_types::{Event, EventKind, ItemId, UserId};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A batch of clicks of partition `p`'s users on the items `hot` and `item-<n % 7>`.
fn batch(p: u32, first: u64, n: usize, now: i64) -> Batch {
    let events = (0..n)
        .map(|i| {
            let item = if i % 2 == 0 {
                "hot".to_string()
            } else {
                format!("item-{}", i % 7)
            };
            LoggedEvent {
                offset: first + i as u64,
                event: Event::new(
                    UserId::parse(format!("p{p}-user-{}", i % 13)).unwrap(),
                    Some(ItemId::parse(item).unwrap()),
                    EventKind::Click,
                    now - 1_000,
                ),
                category: Some("shared-category".into()),
            }
        })
        .collect();
    Batch {
        first_offset: first,
        events,
        next_offset: first + n as u64,
        now_ms: now,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_partitions_lose_no_increment_and_replays_add_none() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    concurrent_partitions(&server.url()).await;
}

/// The same on a real six-node Redis Cluster: every key a single-slot command, the shared
/// counters' compare-and-set a one-key script.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_partitions_on_a_cluster() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    concurrent_partitions(&cluster.url()).await;
}

async fn concurrent_partitions(url: &str) {
    let store = RedisStore::open(url, FeatureConfig::default()).unwrap();
    let now = now_ms();
    let partitions: Vec<Arc<RedisStore>> =
        (0..4).map(|p| Arc::new(store.for_partition(p))).collect();
    let (batches, per_batch) = (25usize, 40usize);
    let mut tasks = Vec::new();
    for (p, handle) in partitions.iter().enumerate() {
        let handle = handle.clone();
        tasks.push(tokio::spawn(async move {
            for b in 0..batches {
                let batch = batch(p as u32, (b * per_batch) as u64, per_batch, now);
                handle.apply(&batch, None).await.unwrap();
                // A retried batch (after a failure the updater cannot tell from success)
                // changes nothing.
                if b % 5 == 0 {
                    let mut again = batch.clone();
                    again.first_offset = again.next_offset;
                    handle.apply(&again, None).await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total = 4 * batches * per_batch;
    let hot = store
        .item(&ItemId::parse("hot").unwrap(), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        hot.count_1h as usize,
        total / 2,
        "every partition's clicks on the shared item"
    );
    let categories = store.categories(Window::Hour, now, 10).await.unwrap();
    assert_eq!(categories[0].count as usize, total);
    // Each partition has its own applied offset, independent of the others'.
    for handle in &partitions {
        assert_eq!(
            handle.applied_offset().await.unwrap(),
            Some((batches * per_batch) as u64)
        );
    }
    assert_eq!(
        store.applied_offset().await.unwrap(),
        None,
        "no global offset"
    );
    let trending = store
        .trending(&recd_features::TrendingQuery {
            window: Window::Hour,
            category: None,
            now_ms: now,
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(trending[0].item_id.as_str(), "hot");
    assert_eq!(trending[0].count as usize, total / 2);
}
