//! A document shared by a fleet, against a real redis-server: versions, and two writers at
//! once.

use recd_bus::{BusConfig, SharedDoc};
use recd_features::testing::RedisServer;

fn doc(server: &RedisServer) -> SharedDoc {
    let config = BusConfig {
        events: server.url(),
        connect_timeout_ms: 300,
        response_timeout_ms: 1_000,
        ..BusConfig::default()
    };
    SharedDoc::open(&server.url(), "features.store", &config, "experiments").unwrap()
}

#[test]
fn a_writer_that_read_an_old_version_is_told_to_read_again() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (a, b) = (doc(&server), doc(&server));
    assert_eq!(a.load().unwrap(), (0, None));
    assert_eq!(a.replace(0, b"one").unwrap(), Some(1));
    assert_eq!(b.version().unwrap(), 1);
    // B read version 0 before A's change: its change is refused, nothing is overwritten.
    assert_eq!(b.replace(0, b"lost").unwrap(), None);
    assert_eq!(b.load().unwrap(), (1, Some(b"one".to_vec())));
    assert_eq!(b.replace(1, b"two").unwrap(), Some(2));
    assert_eq!(a.load().unwrap(), (2, Some(b"two".to_vec())));
}

#[test]
fn concurrent_read_modify_write_loops_lose_no_change() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    std::thread::scope(|s| {
        for writer in 0..4 {
            let d = doc(&server);
            s.spawn(move || {
                for n in 0..25 {
                    loop {
                        let (v, bytes) = d.load().unwrap();
                        let mut list: Vec<String> = bytes
                            .map(|b| serde_json::from_slice(&b).unwrap())
                            .unwrap_or_default();
                        list.push(format!("{writer}-{n}"));
                        let next = serde_json::to_vec(&list).unwrap();
                        if d.replace(v, &next).unwrap().is_some() {
                            break;
                        }
                    }
                }
            });
        }
    });
    let (v, bytes) = doc(&server).load().unwrap();
    let list: Vec<String> = serde_json::from_slice(&bytes.unwrap()).unwrap();
    assert_eq!((v, list.len()), (100, 100));
}

#[test]
fn a_fleet_lock_is_held_by_one_process_until_dropped_and_outlives_its_lease_while_held() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let config = BusConfig {
        events: server.url(),
        connect_timeout_ms: 300,
        response_timeout_ms: 1_000,
        ..BusConfig::default()
    };
    let lease = std::time::Duration::from_millis(300);
    let take = || {
        recd_bus::FleetLock::try_acquire(&server.url(), "features.store", &config, "train", lease)
            .unwrap()
    };
    let held = take().expect("free at first");
    assert!(take().is_none(), "held by the first");
    // Renewed while held: still held well past one lease time.
    std::thread::sleep(lease * 3);
    assert!(take().is_none(), "renewed while held");
    assert!(held.held());
    drop(held);
    let again = take().expect("free once dropped");
    // Its lease gone (as after a pause longer than the lease) and the lock taken by another:
    // the first holder learns at its next renewal that it no longer holds it.
    server.flush_all();
    let other = take().expect("free once the lease is gone");
    std::thread::sleep(lease);
    assert!(!again.held(), "lost to another holder");
    assert!(other.held());
}
