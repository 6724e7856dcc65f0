//! Shared helpers: a real store in a temp dir, events stamped now, and feature snapshots.

use std::sync::Arc;

use recd_features::{EmbeddedStore, FeatureConfig, FeatureStore, UserFeatures};
use recd_store::{Store, StoreConfig};
use recd_stream::{StreamConfig, Updater};
use recd_types::{Event, EventKind, ItemId, UserId};

pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    now.as_millis() as i64
}

pub fn open_store(dir: &std::path::Path) -> Arc<Store> {
    Arc::new(Store::open(dir, StoreConfig::default()).expect("open store"))
}

/// `n` events over `n_users` users and a dozen items, of mixed kinds, stamped just before now.
pub fn events(seed: usize, n: usize, n_users: usize) -> Vec<Event> {
    let kinds = [
        EventKind::View,
        EventKind::Click,
        EventKind::View,
        EventKind::Like,
        EventKind::Skip,
    ];
    let base = now_ms() - 60_000;
    (0..n)
        .map(|i| {
            let k = seed + i;
            let kind = kinds[k % kinds.len()];
            Event::new(
                UserId::parse(format!("u{}", k % n_users)).unwrap(),
                Some(ItemId::parse(format!("i{}", (k * 7) % 12)).unwrap()),
                kind,
                base + k as i64,
            )
        })
        .collect()
}

pub async fn append(store: &Arc<Store>, events: Vec<Event>) {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.append_events(events))
        .await
        .unwrap()
        .expect("append");
}

/// Every user's features, in user order, with the vector left out.
pub async fn snapshot(features: &dyn FeatureStore, n_users: usize) -> Vec<Option<UserFeatures>> {
    let now = now_ms();
    let mut out = Vec::new();
    for u in 0..n_users {
        let id = UserId::parse(format!("u{u}")).unwrap();
        out.push(features.user(&id, now).await.unwrap());
    }
    out
}

/// The ground truth: the whole log replayed into a fresh embedded store.
pub async fn replayed(store: &Arc<Store>) -> Arc<EmbeddedStore> {
    let features = Arc::new(EmbeddedStore::new(FeatureConfig::default()));
    let mut updater = Updater::new(
        store.log().clone(),
        features.clone(),
        Arc::new(()),
        None,
        StreamConfig::default(),
    );
    updater.catch_up().await.expect("replay");
    features
}
