//! A fleet's windowed counters against a real redis-server: two processes' batches add up,
//! late counts land in the window before, windows are apart.

use recd_bus::{BusConfig, CounterAdd, CounterTotals, FleetCounters};
use recd_features::testing::RedisServer;

fn counters(server: &RedisServer) -> FleetCounters {
    let config = BusConfig {
        events: server.url(),
        connect_timeout_ms: 300,
        response_timeout_ms: 1_000,
        ..BusConfig::default()
    };
    FleetCounters::open(&server.url(), "features.store", &config, "ratelimit").unwrap()
}

fn add(field: &str, now: u64, before: u64) -> CounterAdd {
    CounterAdd {
        field: field.into(),
        now,
        before,
    }
}

#[test]
fn two_processes_batches_add_up_per_counter_and_per_window() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (a, b) = (counters(&server), counters(&server));
    assert_eq!(a.add(1_000, 7, &[]).unwrap(), vec![], "an empty batch");
    let got = a.add(1_000, 7, &[add("k", 3, 0), add("j", 1, 2)]).unwrap();
    assert_eq!(
        got,
        vec![
            CounterTotals { now: 3, before: 0 },
            CounterTotals { now: 1, before: 2 }
        ]
    );
    // B's batch is added to A's, and B hears the fleet's totals, A's counts included.
    let got = b.add(1_000, 7, &[add("k", 2, 1), add("j", 0, 0)]).unwrap();
    assert_eq!(
        got,
        vec![
            CounterTotals { now: 5, before: 1 },
            CounterTotals { now: 1, before: 2 }
        ]
    );
    // The next window starts at 0 and sees window 7 as the one before.
    let got = a.add(1_000, 8, &[add("k", 1, 0)]).unwrap();
    assert_eq!(got, vec![CounterTotals { now: 1, before: 5 }]);
    // Another window length is another set of counters.
    let got = a.add(2_000, 8, &[add("k", 1, 0)]).unwrap();
    assert_eq!(got, vec![CounterTotals { now: 1, before: 0 }]);
}
