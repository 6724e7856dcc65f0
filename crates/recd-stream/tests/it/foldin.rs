//! The nearline fold-in through the updater, against hand-made item factors.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use recd_features::{EmbeddedStore, FeatureConfig, FeatureStore};
use recd_model::als::{Factors, Gram};
use recd_stream::{AlsFoldIn, FoldInConfig, ItemFactors, SharedFactors, StreamConfig, Updater};
use recd_types::{Event, EventKind, EventWeights, ItemId, UserId};

use crate::support::{append, now_ms, open_store};

/// Three items in two dimensions: "a" and "b" point along the axes, "c" between them.
fn factors(trained_users: &[&str], trained_until_ms: i64) -> ItemFactors {
    let factors = Factors::from_vec(3, 2, vec![1.0, 0.0, 0.0, 1.0, 0.7, 0.7]).unwrap();
    let gram = Gram::compute(&factors, 0.1).unwrap();
    ItemFactors {
        model_version: "m1".into(),
        trained_until_ms,
        item_index: HashMap::from([
            (ItemId::parse("a").unwrap(), 0),
            (ItemId::parse("b").unwrap(), 1),
            (ItemId::parse("c").unwrap(), 2),
        ]),
        factors,
        gram,
        alpha: 1.0,
        trained_users: trained_users
            .iter()
            .map(|u| UserId::parse(*u).unwrap())
            .collect::<HashSet<_>>(),
        weights: EventWeights::default(),
    }
}

fn ev(user: &str, kind: EventKind, item: &str, ts: i64) -> Event {
    Event::new(
        UserId::parse(user).unwrap(),
        Some(ItemId::parse(item).unwrap()),
        kind,
        ts,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_gets_a_vector_that_prefers_what_they_engaged_with() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let now = now_ms();
    append(
        &store,
        vec![
            ev("new", EventKind::View, "a", now - 3),
            ev("new", EventKind::Purchase, "a", now - 2),
            ev("new", EventKind::Skip, "b", now - 1),
            // A trained user whose events are all older than the model keeps the trained vector.
            ev("old", EventKind::View, "b", now - 5),
        ],
    )
    .await;
    let source = Arc::new(SharedFactors::default());
    source.set(Some(factors(&["old"], now)));
    let fold = Arc::new(AlsFoldIn::new(source.clone(), FoldInConfig::default()));
    let features = Arc::new(EmbeddedStore::new(FeatureConfig::default()));
    let mut up = Updater::new(
        store.log().clone(),
        features.clone(),
        Arc::new(()),
        Some(fold),
        StreamConfig::default(),
    );
    up.catch_up().await.unwrap();

    let user = |id: &str| UserId::parse(id).unwrap();
    let f = features.user(&user("new"), now).await.unwrap().unwrap();
    let v = f.vector.expect("a vector for the new user");
    assert_eq!(
        (v.model_version.as_str(), v.n_items),
        ("m1", 1),
        "the skipped item is left out"
    );
    let score = |row: [f32; 2]| v.values[0] * row[0] + v.values[1] * row[1];
    assert!(score([1.0, 0.0]) > 0.1, "likes a: {:?}", v.values);
    assert!(
        score([1.0, 0.0]) > score([0.0, 1.0]) + 0.1,
        "prefers a over b: {:?}",
        v.values
    );

    let old = features.user(&user("old"), now).await.unwrap().unwrap();
    assert_eq!(old.vector, None, "trained and nothing newer than the model");

    // A newer event than the model makes the trained user's vector stale: fold in.
    append(&store, vec![ev("old", EventKind::Like, "c", now + 1)]).await;
    up.catch_up().await.unwrap();
    let old = features.user(&user("old"), now + 1).await.unwrap().unwrap();
    assert_eq!(old.vector.map(|v| v.n_items), Some(2));
}
