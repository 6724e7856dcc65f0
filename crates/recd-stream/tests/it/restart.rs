//! The updater resumes exactly where it stopped: after a restart (embedded store rebuilt from
//! the log), after a restart with Redis keeping the state, and across a Redis outage.

use std::sync::Arc;
use std::time::{Duration, Instant};

use recd_features::testing::RedisServer;
use recd_features::{EmbeddedStore, FeatureConfig, FeatureStore, RedisStore};
use recd_stream::{StreamConfig, Updater};
use tokio::sync::watch;

use crate::support::{append, events, now_ms, open_store, replayed, snapshot};

const N_USERS: usize = 7;

fn updater(store: &Arc<recd_store::Store>, features: Arc<dyn FeatureStore>) -> Updater {
    Updater::new(
        store.log().clone(),
        features,
        Arc::new(()),
        None,
        StreamConfig::default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_features_are_equal_before_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    append(&store, events(0, 200, N_USERS)).await;
    let features = Arc::new(EmbeddedStore::new(FeatureConfig::default()));
    let mut up = updater(&store, features.clone());
    assert_eq!(up.catch_up().await.unwrap(), 200);
    let before = snapshot(&*features, N_USERS).await;
    assert!(before.iter().all(Option::is_some));
    drop((up, features, store));

    let store = open_store(dir.path());
    let features = Arc::new(EmbeddedStore::new(FeatureConfig::default()));
    let mut up = updater(&store, features.clone());
    assert_eq!(up.catch_up().await.unwrap(), 200);
    assert_eq!(snapshot(&*features, N_USERS).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_a_restarted_updater_resumes_at_the_stored_offset() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    append(&store, events(0, 50, N_USERS)).await;
    let redis = Arc::new(RedisStore::open(&server.url(), FeatureConfig::default()).unwrap());
    updater(&store, redis.clone()).catch_up().await.unwrap();
    append(&store, events(50, 30, N_USERS)).await;

    // A new process: a new store handle and updater; Redis kept the state and the offset.
    let redis = Arc::new(RedisStore::open(&server.url(), FeatureConfig::default()).unwrap());
    let mut up = updater(&store, redis.clone());
    assert_eq!(
        up.step().await.unwrap(),
        30,
        "only the 30 new records are read"
    );
    assert_eq!(up.position(), Some(80));
    let truth = replayed(&store).await;
    assert_eq!(
        snapshot(&*redis, N_USERS).await,
        snapshot(&*truth, N_USERS).await
    );
}

/// Stops Redis in the middle of a stream of appends and restarts it empty; once converged,
/// loses every key without any error (FLUSHALL, like a failover to an empty replica) and
/// appends more. Each time the running updater must converge to exactly the features a full
/// replay of the log gives: no event lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn features_converge_after_a_redis_outage_with_no_event_lost() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let mut config = FeatureConfig::default();
    config.redis.cache_ttl_ms = 0; // Read what Redis holds, not what this process cached.
    let redis = Arc::new(RedisStore::open(&server.url(), config).unwrap());
    let (wake_tx, wake_rx) = watch::channel(0u64);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (progress_tx, mut progress_rx) = watch::channel(None);
    let stream_config = StreamConfig {
        poll_interval_ms: 20,
        batch_max_records: 25,
        ..StreamConfig::default()
    };
    let up = Updater::new(
        store.log().clone(),
        redis.clone(),
        Arc::new(()),
        None,
        stream_config,
    );
    let task = tokio::spawn(up.run(wake_rx, stop_rx, progress_tx));

    let mut total = 0usize;
    let append_round = async |total: &mut usize| {
        append(&store, events(*total, 40, N_USERS)).await;
        *total += 40;
        wake_tx.send_replace(store.log().end_offset());
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    for round in 0..8 {
        // An outage the updater sees: appends go on while Redis is down.
        if round == 3 {
            server.stop();
        }
        if round == 6 {
            server.restart();
        }
        append_round(&mut total).await;
    }
    converge(&store, &redis, &mut progress_rx, total).await;

    server.flush_all();
    for _ in 0..2 {
        append_round(&mut total).await;
    }
    converge(&store, &redis, &mut progress_rx, total).await;
    stop_tx.send_replace(true);
    task.await.unwrap();
}

/// Waits (20 s at most) until Redis holds exactly what a full replay of the log gives.
async fn converge(
    store: &Arc<recd_store::Store>,
    redis: &RedisStore,
    progress_rx: &mut watch::Receiver<Option<u64>>,
    total: usize,
) {
    let truth = snapshot(&*replayed(store).await, N_USERS).await;
    let n_events: u64 = truth
        .iter()
        .map(|f| f.as_ref().unwrap().counts.values().sum::<u64>())
        .sum();
    assert_eq!(
        n_events, total as u64,
        "the replay itself counts every event"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let applied = *progress_rx.borrow_and_update();
        if applied == Some(total as u64)
            && redis.applied_offset().await.ok().flatten() == Some(total as u64)
            && let Ok(got) = try_snapshot(redis).await
            && got == truth
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "features did not converge: applied {applied:?}"
        );
        let _ = tokio::time::timeout(Duration::from_millis(50), progress_rx.changed()).await;
    }
}

async fn try_snapshot(
    features: &dyn FeatureStore,
) -> Result<Vec<Option<recd_features::UserFeatures>>, recd_features::FeatureError> {
    let now = now_ms();
    let mut out = Vec::new();
    for u in 0..N_USERS {
        let id = recd_types::UserId::parse(format!("u{u}")).unwrap();
        out.push(features.user(&id, now).await?);
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_store_is_rebuilt_from_the_segments_within_the_ttl_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = recd_store::StoreConfig {
        segment_bytes: 4096,
        ..Default::default()
    };
    let store = Arc::new(recd_store::Store::open(dir.path(), config).unwrap());
    // A year-old history over many segments, then today's events.
    let mut old = events(0, 400, N_USERS);
    for e in &mut old {
        e.timestamp_ms -= 365 * 86_400_000;
    }
    for chunk in old.chunks(20) {
        append(&store, chunk.to_vec()).await;
    }
    append(&store, events(1000, 50, N_USERS)).await;
    let end = store.log().end_offset();

    let ttl = FeatureConfig::default().user_ttl_ms();
    let replay =
        |features: Arc<dyn FeatureStore>| updater(&store, features).with_replay_horizon(ttl);
    let fast = Arc::new(EmbeddedStore::new(FeatureConfig::default()));
    let mut up = replay(fast.clone());
    assert_eq!(up.catch_up().await.unwrap(), end);
    let full = Arc::new(EmbeddedStore::new(FeatureConfig::default()));
    let mut all = updater(&store, full.clone());
    assert_eq!(all.catch_up().await.unwrap(), end);
    // The same state, from a fraction of the log.
    assert_eq!(
        snapshot(&*fast, N_USERS).await,
        snapshot(&*full, N_USERS).await
    );
    let start = store.log().offset_for_time(now_ms() - ttl);
    assert!(
        (300..=400).contains(&start),
        "replay starts at {start} of {end}"
    );
    // A store that has applied nothing yet is in sync at the horizon, not lost.
    let idle = Arc::new(EmbeddedStore::new(FeatureConfig::default()));
    let mut up = replay(idle);
    assert!(up.verify().await.unwrap(), "the first check synchronises");
    assert!(!up.verify().await.unwrap(), "and the next finds it in sync");
}
