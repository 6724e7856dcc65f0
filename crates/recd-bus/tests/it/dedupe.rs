//! The fleet's shared dedupe window against a real redis-server: what two processes see
//! when they claim the same event ids, and how entries leave the window.

use recd_bus::{BusConfig, SharedClaim, SharedDedupe};
use recd_features::testing::RedisServer;

const WINDOW_MS: i64 = 60_000;
const NOW: i64 = 1_800_000_000_000;

fn window(server: &RedisServer, max_entries: usize, pending_ms: i64) -> SharedDedupe {
    let config = BusConfig {
        events: server.url(),
        partitions: 4,
        connect_timeout_ms: 300,
        response_timeout_ms: 1_000,
        ..BusConfig::default()
    };
    SharedDedupe::open(
        &server.url(),
        "features.store",
        &config,
        WINDOW_MS,
        max_entries,
        pending_ms,
    )
    .unwrap()
}

fn ready(claim: SharedClaim) -> (Vec<usize>, Vec<(usize, u64)>) {
    match claim {
        SharedClaim::Ready { fresh, seen } => (fresh, seen),
        SharedClaim::Busy => panic!("busy"),
    }
}

#[test]
fn a_retry_through_another_process_is_a_duplicate_with_its_original_offset() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // Two processes of a fleet: two windows over one Redis.
    let (a, b) = (window(&server, 1000, 5_000), window(&server, 1000, 5_000));
    let (ta, tb) = (SharedDedupe::token(), SharedDedupe::token());
    assert_ne!(ta, tb);
    let batch = [Some((0, "e1")), None, Some((3, "e2"))];
    assert_eq!(
        ready(a.claim(&batch, &ta, NOW).unwrap()),
        (vec![0, 2], vec![])
    );
    // While A appends, B's retry of the same ids waits: nothing is claimed for it, not
    // even the ids that were free.
    let retry = [Some((3, "e2")), Some((1, "e3"))];
    assert_eq!(b.claim(&retry, &tb, NOW).unwrap(), SharedClaim::Busy);
    // Only the claim's owner completes it.
    b.complete(&[(0, "e1", 99)], &tb, NOW).unwrap();
    assert_eq!(b.claim(&retry, &tb, NOW).unwrap(), SharedClaim::Busy);
    a.complete(&[(0, "e1", 7), (3, "e2", 11)], &ta, NOW)
        .unwrap();
    // Now B sees both as durable at A's offsets, and claims only the new one.
    let batch = [Some((0, "e1")), Some((3, "e2")), Some((1, "e3"))];
    assert_eq!(
        ready(b.claim(&batch, &tb, NOW + 1).unwrap()),
        (vec![2], vec![(0, 7), (1, 11)])
    );
    // A failed append gives its ids back: a later retry may append them.
    b.release(&[(1, "e3")], &tb).unwrap();
    assert_eq!(
        ready(a.claim(&[Some((1, "e3"))], &ta, NOW + 2).unwrap()),
        (vec![0], vec![])
    );
    a.check().unwrap();
}

#[test]
fn an_abandoned_claim_lapses_and_old_or_surplus_entries_leave_the_window() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let w = window(&server, 8, 1_000);
    let (dead, live) = (SharedDedupe::token(), SharedDedupe::token());
    // A process died between its claim and its completion: the id is busy until the
    // pending time passes, then free for whoever retries.
    assert_eq!(
        ready(w.claim(&[Some((2, "x"))], &dead, NOW).unwrap()).0,
        vec![0]
    );
    assert_eq!(
        w.claim(&[Some((2, "x"))], &live, NOW + 999).unwrap(),
        SharedClaim::Busy
    );
    assert_eq!(
        ready(w.claim(&[Some((2, "x"))], &live, NOW + 1_001).unwrap()).0,
        vec![0]
    );
    // The dead process's late completion does not overwrite the new owner's claim.
    w.complete(&[(2, "x", 1)], &dead, NOW + 1_002).unwrap();
    w.complete(&[(2, "x", 2)], &live, NOW + 1_002).unwrap();
    assert_eq!(
        ready(w.claim(&[Some((2, "x"))], &live, NOW + 1_003).unwrap()).1,
        vec![(0, 2)]
    );
    // Past the window the id is forgotten.
    let later = NOW + 1_002 + WINDOW_MS + 1;
    assert_eq!(
        ready(w.claim(&[Some((2, "x"))], &live, later).unwrap()).0,
        vec![0]
    );

    // The cap is shared out over the 4 partitions: 2 each; the oldest go first.
    let t = SharedDedupe::token();
    for (n, id) in ["c1", "c2", "c3"].iter().enumerate() {
        let at = later + 10 + n as i64;
        w.claim(&[Some((1, id))], &t, at).unwrap();
        w.complete(&[(1, id, n as u64)], &t, at).unwrap();
    }
    // The next claim trims partition 1 to its share before looking: c1 is gone.
    let (fresh, seen) = ready(
        w.claim(&[Some((1, "c1")), Some((1, "c3"))], &t, later + 20)
            .unwrap(),
    );
    assert_eq!((fresh, seen), (vec![0], vec![(1, 2)]));
}

#[test]
fn a_redis_that_is_down_is_an_error_not_a_claim() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let w = window(&server, 10, 1_000);
    drop(server);
    let t = SharedDedupe::token();
    assert!(w.claim(&[Some((0, "e"))], &t, NOW).is_err());
    assert!(w.check().is_err());
}

/// What the window costs Redis per event id (the figure in docs/deploy.md): 100,000 ids of 36
/// characters (a UUID's length), claimed and completed in batches of 100, against
/// `used_memory` before and after. Run with `--ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn memory_per_entry() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let used = || -> i64 {
        let client = redis::Client::open(server.url()).unwrap();
        let mut c = client.get_connection().unwrap();
        let info: String = redis::cmd("INFO").arg("memory").query(&mut c).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let w = window(&server, 10_000_000, 5_000);
    let before = used();
    let n = 100_000;
    for batch in 0..n / 100 {
        let ids: Vec<String> = (0..100)
            .map(|i| format!("{:036}", batch * 100 + i))
            .collect();
        let at: Vec<Option<(u32, &str)>> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| Some(((i % 4) as u32, id.as_str())))
            .collect();
        let t = SharedDedupe::token();
        w.claim(&at, &t, NOW).unwrap();
        let done: Vec<(u32, &str, u64)> = at
            .iter()
            .flatten()
            .map(|&(p, id)| (p, id, 1_000_000_000))
            .collect();
        w.complete(&done, &t, NOW).unwrap();
    }
    let per_entry = (used() - before) as f64 / n as f64;
    println!("shared dedupe window: {per_entry:.0} bytes of Redis memory per 36-byte event id");
}
