//! The feature store contract: every backend must pass every test here.
//!
//! Each test is a plain async fn over `&dyn FeatureStore`; the `contract!` macro instantiates
//! all of them once per backend, so a new backend is one macro line, and a new rule is one fn.
//! The Redis instantiation talks to a real `redis-server` started on a free loopback port.

use std::sync::Arc;

use recd_features::testing::RedisServer;
use recd_features::{
    Batch, EmbeddedStore, FeatureConfig, FeatureStore, FoldIn, LoggedEvent, RedisStore,
    TrendingQuery, UserFeatures, UserVector, Window,
};
use recd_types::{Event, EventKind, ItemId, UserId};

const MIN: i64 = 60_000;

/// "Now" of the tests: the real clock (rounded to the minute), because Redis expires keys by
/// the real clock; a fixed date in the past would have every key expire on arrival.
fn t0() -> i64 {
    static START: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *START.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        now.as_millis() as i64 / MIN * MIN
    })
}

/// A backend under test, with whatever keeps it alive.
pub struct Fixture {
    pub store: Arc<dyn FeatureStore>,
    _server: Option<RedisServer>,
}

pub fn embedded(config: FeatureConfig) -> Option<Fixture> {
    Some(Fixture {
        store: Arc::new(EmbeddedStore::new(config)),
        _server: None,
    })
}

/// With the local cache's freshness at zero, so every read in the suite goes to Redis.
pub fn redis(mut config: FeatureConfig) -> Option<Fixture> {
    config.redis.cache_ttl_ms = 0;
    let server = RedisServer::start()?;
    let store = RedisStore::open(&server.url(), config).expect("open redis store");
    Some(Fixture {
        store: Arc::new(store),
        _server: Some(server),
    })
}

fn event(user: &str, kind: EventKind, item: Option<&str>, ts: i64) -> Event {
    let mut e = Event::new(
        UserId::parse(user).unwrap(),
        item.map(|i| ItemId::parse(i).unwrap()),
        kind,
        ts,
    );
    match kind {
        EventKind::Search => e.query = Some(format!("query {ts}")),
        EventKind::Rating => e.value = Some(1.0),
        _ => {}
    }
    e
}

/// A batch of `events` logged from `first_offset` on, applied at `now_ms`.
fn batch(first_offset: u64, events: Vec<(Event, Option<&str>)>, now_ms: i64) -> Batch {
    let n = events.len() as u64;
    Batch {
        first_offset,
        events: events
            .into_iter()
            .enumerate()
            .map(|(i, (event, category))| LoggedEvent {
                offset: first_offset + i as u64,
                event,
                category: category.map(str::to_string),
            })
            .collect(),
        next_offset: first_offset + n,
        now_ms,
    }
}

fn views(f: &UserFeatures) -> Vec<&str> {
    f.recent_views.iter().map(|v| v.value.as_str()).collect()
}

async fn user(store: &dyn FeatureStore, id: &str, now: i64) -> Option<UserFeatures> {
    store.user(&UserId::parse(id).unwrap(), now).await.unwrap()
}

pub async fn a_new_store_knows_nothing(store: &dyn FeatureStore) {
    assert_eq!(store.applied_offset().await.unwrap(), None);
    assert_eq!(user(store, "nobody", t0()).await, None);
    let q = TrendingQuery {
        window: Window::Day,
        category: None,
        now_ms: t0(),
        limit: 10,
    };
    assert!(store.trending(&q).await.unwrap().is_empty());
}

pub async fn views_come_back_newest_first_deduplicated_and_bounded(store: &dyn FeatureStore) {
    let items = ["a", "b", "c", "a", "d", "e", "f"];
    let events = items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            (
                event("u1", EventKind::View, Some(it), t0() + i as i64),
                None,
            )
        })
        .collect();
    store
        .apply(&batch(0, events, t0() + 10), None)
        .await
        .unwrap();
    let f = user(store, "u1", t0() + 10).await.expect("features");
    assert_eq!(views(&f), ["f", "e", "d", "a", "c"]);
    assert_eq!(f.counts[&EventKind::View], 7);
    assert_eq!(f.last_offset, 6);
    assert_eq!(store.applied_offset().await.unwrap(), Some(7));
}

pub async fn reapplying_a_batch_changes_nothing(store: &dyn FeatureStore) {
    let first = batch(
        0,
        vec![
            (event("u1", EventKind::View, Some("a"), t0()), Some("toys")),
            (event("u1", EventKind::Search, None, t0() + 1), None),
            (
                event("u2", EventKind::Purchase, Some("a"), t0() + 2),
                Some("toys"),
            ),
        ],
        t0() + 5,
    );
    store.apply(&first, None).await.unwrap();
    let before = (
        user(store, "u1", t0() + 5).await,
        user(store, "u2", t0() + 5).await,
    );
    let item_before = store
        .item(&ItemId::parse("a").unwrap(), t0() + 5)
        .await
        .unwrap();
    store.apply(&first, None).await.unwrap();
    let after = (
        user(store, "u1", t0() + 5).await,
        user(store, "u2", t0() + 5).await,
    );
    assert_eq!(before, after);
    assert_eq!(
        store
            .item(&ItemId::parse("a").unwrap(), t0() + 5)
            .await
            .unwrap(),
        item_before
    );
    assert_eq!(item_before.unwrap().count_24h, 2);
}

pub async fn every_user_feature_round_trips(store: &dyn FeatureStore) {
    let mut with_context = event("u1", EventKind::Click, Some("b"), t0() + 2);
    with_context.session_id = Some("s1".into());
    with_context.context.page = Some("home".into());
    with_context.context.device = Some("tv".into());
    let events = vec![
        (event("u1", EventKind::View, Some("a"), t0()), Some("toys")),
        (event("u1", EventKind::Search, None, t0() + 1), None),
        (with_context, Some("books")),
        (event("u1", EventKind::Dislike, Some("c"), t0() + 3), None),
        (event("u1", EventKind::Rating, Some("d"), t0() + 4), None),
    ];
    store
        .apply(&batch(0, events, t0() + 10), None)
        .await
        .unwrap();
    let f = user(store, "u1", t0() + 10).await.unwrap();
    assert_eq!(f.recent_queries[0].value, format!("query {}", t0() + 1));
    let negatives = f.negatives(&recd_types::EventWeights::default());
    let neg: Vec<_> = negatives
        .iter()
        .map(|n| (n.item_id.as_str(), n.reason))
        .collect();
    assert_eq!(neg, [("d", EventKind::Rating), ("c", EventKind::Dislike)]);
    let s = f.session.as_ref().unwrap();
    assert_eq!(s.session_id.as_deref(), Some("s1"));
    assert_eq!(
        (s.n_events, s.current_category.as_deref()),
        (3, Some("books"))
    );
    assert_eq!(
        (s.pages.clone(), s.device.as_deref()),
        (vec!["home".to_string()], Some("tv"))
    );
    assert_eq!(f.counts.values().sum::<u64>(), 5);
    assert_eq!(f.recent_interactions.len(), 4);
    assert_eq!(f.last_event_ms, t0() + 4);
}

pub async fn features_expire_after_the_ttl(store: &dyn FeatureStore) {
    let ttl = store.config().user_ttl_ms();
    let now = t0() + 1000;
    let events = vec![
        (event("fresh", EventKind::View, Some("a"), now - 10), None),
        (
            event("stale", EventKind::View, Some("a"), now - ttl - 1),
            None,
        ),
    ];
    store.apply(&batch(0, events, now), None).await.unwrap();
    assert!(user(store, "fresh", now).await.is_some());
    assert_eq!(
        user(store, "stale", now).await,
        None,
        "older than the TTL: not applied"
    );
    assert_eq!(
        user(store, "fresh", now - 10 + ttl).await,
        None,
        "expired by then"
    );
    store.evict_expired(now - 10 + ttl).await.unwrap();
    assert_eq!(user(store, "fresh", now - 10 + ttl).await, None);
}

pub async fn trending_counts_engagement_per_window_and_category(store: &dyn FeatureStore) {
    let mut events = Vec::new();
    // "old" is engaged 3 times two hours ago; "hot" twice in the last minutes; "book" once.
    for i in 0..3 {
        events.push((
            event(
                &format!("u{i}"),
                EventKind::View,
                Some("old"),
                t0() - 120 * MIN,
            ),
            Some("toys"),
        ));
    }
    events.push((
        event("u1", EventKind::Click, Some("hot"), t0() - 2 * MIN),
        Some("toys"),
    ));
    events.push((
        event("u2", EventKind::View, Some("hot"), t0() - MIN),
        Some("toys"),
    ));
    events.push((
        event("u3", EventKind::Purchase, Some("book"), t0() - MIN),
        Some("books"),
    ));
    // Negative signals are not engagement.
    events.push((
        event("u4", EventKind::Dislike, Some("book"), t0() - MIN),
        Some("books"),
    ));
    store.apply(&batch(0, events, t0()), None).await.unwrap();

    let top = |window, category: Option<&str>| TrendingQuery {
        window,
        category: category.map(str::to_string),
        now_ms: t0(),
        limit: 10,
    };
    let ids = |v: Vec<recd_features::TrendingItem>| {
        v.into_iter()
            .map(|t| (t.item_id.to_string(), t.count))
            .collect::<Vec<_>>()
    };
    let hour = ids(store.trending(&top(Window::Hour, None)).await.unwrap());
    assert_eq!(hour, [("hot".to_string(), 2), ("book".to_string(), 1)]);
    let day = ids(store.trending(&top(Window::Day, None)).await.unwrap());
    assert_eq!(
        day,
        [
            ("old".to_string(), 3),
            ("hot".to_string(), 2),
            ("book".to_string(), 1)
        ]
    );
    let books = ids(store
        .trending(&top(Window::Day, Some("books")))
        .await
        .unwrap());
    assert_eq!(books, [("book".to_string(), 1)]);
    let mut limited = top(Window::Day, None);
    limited.limit = 1;
    assert_eq!(
        ids(store.trending(&limited).await.unwrap()),
        [("old".to_string(), 3)]
    );

    let cats = store.categories(Window::Day, t0(), 10).await.unwrap();
    let cats: Vec<_> = cats.into_iter().map(|c| (c.category, c.count)).collect();
    assert_eq!(cats, [("toys".to_string(), 5), ("books".to_string(), 1)]);
    let hot = store
        .item(&ItemId::parse("hot").unwrap(), t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (hot.count_1h, hot.count_24h, hot.category.as_deref()),
        (2, 2, Some("toys"))
    );
    // A day and an hour later nothing is trending any more.
    let later = TrendingQuery {
        now_ms: t0() + 25 * 60 * MIN,
        ..top(Window::Day, None)
    };
    assert!(store.trending(&later).await.unwrap().is_empty());
}

struct CountingFold;

impl FoldIn for CountingFold {
    fn fold_in(&self, f: &UserFeatures) -> Option<UserVector> {
        Some(UserVector {
            model_version: "test".into(),
            values: vec![f.recent_interactions.len() as f32],
            n_items: f.recent_interactions.len() as u32,
            computed_at_ms: f.last_event_ms,
        })
    }
}

pub async fn the_folded_vector_is_kept_with_the_user(store: &dyn FeatureStore) {
    let events = vec![
        (event("u1", EventKind::View, Some("a"), t0()), None),
        (event("u1", EventKind::Like, Some("b"), t0() + 1), None),
    ];
    store
        .apply(&batch(0, events, t0() + 2), Some(&CountingFold))
        .await
        .unwrap();
    let v = user(store, "u1", t0() + 2).await.unwrap().vector.unwrap();
    assert_eq!(
        (v.values, v.n_items, v.computed_at_ms),
        (vec![2.0], 2, t0() + 1)
    );
    // A later batch without a fold-in leaves the vector alone.
    let more = vec![(event("u1", EventKind::View, Some("c"), t0() + 3), None)];
    store.apply(&batch(2, more, t0() + 4), None).await.unwrap();
    assert_eq!(
        user(store, "u1", t0() + 4)
            .await
            .unwrap()
            .vector
            .unwrap()
            .values,
        vec![2.0]
    );
}

pub async fn a_deleted_user_is_gone_and_starts_afresh(store: &dyn FeatureStore) {
    let events = vec![
        (event("gone", EventKind::View, Some("a"), t0()), Some("c1")),
        (event("kept", EventKind::View, Some("a"), t0() + 1), None),
    ];
    store
        .apply(&batch(0, events, t0() + 2), None)
        .await
        .unwrap();
    let gone = UserId::parse("gone").unwrap();
    assert!(store.delete_user(&gone).await.unwrap());
    assert_eq!(user(store, "gone", t0() + 2).await, None);
    assert!(!store.delete_user(&gone).await.unwrap(), "nothing left");
    assert!(user(store, "kept", t0() + 2).await.is_some(), "others stay");
    assert_eq!(store.applied_offset().await.unwrap(), Some(2));
    // The next event of the id is a new user's first.
    let later = vec![(event("gone", EventKind::View, Some("b"), t0() + 3), None)];
    store.apply(&batch(2, later, t0() + 4), None).await.unwrap();
    let back = user(store, "gone", t0() + 4).await.unwrap();
    assert_eq!(views(&back), ["b"]);
    assert_eq!(back.last_offset, 2);
}

macro_rules! contract {
    ($backend:ident) => {
        mod $backend {
            use super::*;

            async fn check<F, Fut>(config: FeatureConfig, test: F)
            where
                F: FnOnce(Arc<dyn FeatureStore>) -> Fut,
                Fut: std::future::Future<Output = ()>,
            {
                if let Some(fixture) = super::$backend(config) {
                    test(fixture.store.clone()).await;
                }
            }

            contract!(@tests
                a_new_store_knows_nothing,
                views_come_back_newest_first_deduplicated_and_bounded,
                reapplying_a_batch_changes_nothing,
                every_user_feature_round_trips,
                features_expire_after_the_ttl,
                trending_counts_engagement_per_window_and_category,
                the_folded_vector_is_kept_with_the_user,
                a_deleted_user_is_gone_and_starts_afresh
            );
        }
    };
    (@tests $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                check(FeatureConfig::default(), |s| async move { super::$name(&*s).await }).await;
            }
        )*
    };
}

contract!(embedded);
contract!(redis);
