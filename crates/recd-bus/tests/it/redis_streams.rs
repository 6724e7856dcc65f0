use std::collections::HashMap;

use recd_bus::{BusConfig, BusError, EventBus, Position, RedisStreams};
use recd_features::testing::RedisServer;
use recd_store::EventLog;
use recd_types::{ItemId, Record};

use crate::event;

fn config(server: &RedisServer, partitions: u32) -> BusConfig {
    BusConfig {
        events: server.url(),
        partitions,
        connect_timeout_ms: 300,
        response_timeout_ms: 1_000,
        ..BusConfig::default()
    }
}

/// Every record of every partition, with its position.
fn read_all(bus: &RedisStreams) -> Vec<(Position, Record)> {
    let mut all = Vec::new();
    for p in 0..bus.partitions() {
        let log = bus.partition(p);
        for entry in log.read_from(0).unwrap() {
            let (offset, record) = entry.unwrap();
            all.push((
                Position {
                    partition: p,
                    offset,
                },
                record,
            ));
        }
    }
    all
}

#[test]
fn appends_keep_each_users_order_and_read_back_at_their_positions() {
    let Some(server) = RedisServer::start_durable() else {
        return;
    };
    let bus = RedisStreams::open(config(&server, 4)).unwrap();
    // Concurrent callers, each with interleaved users: the writer groups them.
    let acked: Vec<(Position, Record)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let bus = &bus;
                s.spawn(move || {
                    let mut acked = Vec::new();
                    for round in 0..10 {
                        let records: Vec<Record> = (0..5)
                            .map(|u| event(t * 5 + u, i64::from(round) * 100 + t as i64))
                            .collect();
                        let positions = bus.append(&records).wait().unwrap();
                        assert_eq!(positions.len(), records.len());
                        acked.extend(positions.into_iter().zip(records));
                    }
                    acked
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(acked.len(), 400);
    let read = read_all(&bus);
    let by_position: HashMap<Position, Record> = read.iter().cloned().collect();
    assert_eq!(by_position.len(), 400, "no record read twice or lost");
    for (position, record) in &acked {
        assert_eq!(by_position.get(position), Some(record), "{position:?}");
        assert_eq!(position.partition, bus.partition_of(record));
    }
    // One user's records are in one partition, in the order they were appended.
    let mut per_user: HashMap<String, Vec<i64>> = HashMap::new();
    for (_, record) in &read {
        if let Record::Event(e) = record {
            per_user
                .entry(e.user_id.to_string())
                .or_default()
                .push(e.timestamp_ms);
        }
    }
    for (user, times) in per_user {
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{user}: {times:?}");
    }
    // Partitions spread the users.
    assert!((0..4).all(|p| read.iter().any(|(pos, _)| pos.partition == p)));
}

#[test]
fn offsets_address_records_and_the_end_moves_with_appends() {
    let Some(server) = RedisServer::start_durable() else {
        return;
    };
    let bus = RedisStreams::open(config(&server, 1)).unwrap();
    let log = bus.partition(0);
    assert_eq!(log.end_offset(), 0);
    assert_eq!(log.read_from(0).unwrap().count(), 0);
    let records: Vec<Record> = (0..1_300).map(|n| event(1, n)).collect();
    let positions = bus.append(&records).wait().unwrap();
    assert_eq!(log.end_offset(), positions.last().unwrap().offset + 1);
    // Reading from a record's offset + 1 starts after it (the updater resumes so), across
    // several XRANGE pages.
    let from = positions[99].offset + 1;
    let rest: Vec<(u64, Record)> = log.read_from(from).unwrap().map(Result::unwrap).collect();
    assert_eq!(rest.len(), 1_200);
    assert_eq!(rest[0].1, records[100]);
    assert_eq!(rest.last().unwrap().1, records[1_299]);
    assert!(rest.windows(2).all(|w| w[0].0 < w[1].0));
}

#[test]
fn an_acknowledged_append_survives_a_redis_crash() {
    let Some(mut server) = RedisServer::start_durable() else {
        return;
    };
    let bus = RedisStreams::open(config(&server, 2)).unwrap();
    let mut acked = Vec::new();
    for round in 0..50 {
        let records: Vec<Record> = (0..4).map(|u| event(u, round)).collect();
        let positions = bus.append(&records).wait().unwrap();
        acked.extend(positions.into_iter().zip(records));
    }
    server.stop(); // SIGKILL: no shutdown save, only what the append-only file holds.
    let refused = bus.append(&[event(0, 999)]).wait();
    assert!(
        matches!(refused, Err(BusError::Unavailable(_))),
        "{refused:?}"
    );
    server.restart();
    let read: HashMap<Position, Record> = read_all(&bus).into_iter().collect();
    for (position, record) in &acked {
        assert_eq!(
            read.get(position),
            Some(record),
            "acknowledged record lost at {position:?}"
        );
    }
    // And the bus writes again once Redis is back.
    assert_eq!(bus.append(&[event(0, 1_000)]).wait().unwrap().len(), 1);
}

#[test]
fn a_redis_that_would_lose_acknowledged_events_is_refused() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let bus = RedisStreams::open(config(&server, 2)).unwrap();
    let err = bus.append(&[event(1, 1)]).wait().unwrap_err();
    assert!(err.to_string().contains("appendfsync"), "{err}");
    assert!(bus.check().is_err());
    // Nothing was written.
    assert!(read_all(&bus).is_empty());
    // Whoever accepts the risk says so.
    let unsafe_bus = RedisStreams::open(BusConfig {
        require_durable: false,
        ..config(&server, 2)
    })
    .unwrap();
    assert_eq!(unsafe_bus.append(&[event(1, 1)]).wait().unwrap().len(), 1);
}

#[test]
fn foreign_entries_are_counted_skipped_and_reported() {
    let Some(server) = RedisServer::start_durable() else {
        return;
    };
    let config = config(&server, 1);
    let bus = RedisStreams::open(config.clone()).unwrap();
    let first = bus.append(&[event(1, 1)]).wait().unwrap();
    let key = config.stream_key(0);
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let xadd = |conn: &mut redis::Connection, fields: &[(&str, &[u8])]| {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&key).arg("*");
        for (k, v) in fields {
            cmd.arg(*k).arg(*v);
        }
        cmd.query::<String>(conn).unwrap()
    };
    xadd(&mut conn, &[("hello", b"world")]);
    xadd(&mut conn, &[("s", b"3"), ("r", &[0xff, 0xff, 0xff])]);
    xadd(&mut conn, &[("s", b"99"), ("r", b"x")]);
    let second = bus.append(&[event(1, 2)]).wait().unwrap();
    let log = bus.partition(0);
    let read: Vec<(u64, Record)> = log.read_from(0).unwrap().map(Result::unwrap).collect();
    assert_eq!(
        read.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        vec![first[0].offset, second[0].offset]
    );
    let damage = log.damage();
    assert_eq!(damage.len(), 3, "{damage:?}");
    assert!(damage.iter().any(|d| d.reason.contains("no field s")));
    assert!(damage.iter().any(|d| d.reason.contains("schema 99")));
    // Reading again reports the same three, not three more.
    assert_eq!(log.read_from(0).unwrap().count(), 2);
    assert_eq!(log.damage().len(), 3);
}

#[test]
fn retention_caps_each_partition() {
    let Some(server) = RedisServer::start_durable() else {
        return;
    };
    let bus = RedisStreams::open(BusConfig {
        max_len: 100,
        ..config(&server, 1)
    })
    .unwrap();
    for round in 0..20 {
        let records: Vec<Record> = (0..50).map(|n| event(1, round * 50 + n)).collect();
        bus.append(&records).wait().unwrap();
    }
    let kept = bus.partition(0).read_from(0).unwrap().count();
    // `~` trims whole macro nodes: about the cap, never everything.
    assert!((100..=300).contains(&kept), "kept {kept}");
}

#[test]
fn on_a_cluster_partitions_spread_over_the_masters_and_read_back() {
    let Some(cluster) = recd_features::testing::RedisCluster::start() else {
        return;
    };
    let bus = RedisStreams::open(BusConfig {
        events: cluster.url(),
        partitions: 8,
        connect_timeout_ms: 1_000,
        response_timeout_ms: 2_000,
        ..BusConfig::default()
    })
    .unwrap();
    let records: Vec<Record> = (0..400).map(|n| event(n as usize % 40, n)).collect();
    let positions = bus.append(&records).wait().unwrap();
    let read: HashMap<Position, Record> = read_all(&bus).into_iter().collect();
    assert_eq!(read.len(), 400);
    for (position, record) in positions.iter().zip(&records) {
        assert_eq!(read.get(position), Some(record));
    }
    // The streams are on more than one master: the partitions' hash tags spread them.
    let holding = cluster
        .ports()
        .into_iter()
        .filter(|port| {
            let cli = |args: &[&str]| {
                let out = std::process::Command::new("redis-cli")
                    .args(["-p", &port.to_string()])
                    .args(args)
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).into_owned()
            };
            cli(&["role"]).starts_with("master")
                && !cli(&["--scan", "--pattern", "recd:events:*"])
                    .trim()
                    .is_empty()
        })
        .count();
    assert!(holding >= 2, "streams on {holding} master(s)");
    assert!(bus.check().is_ok());
}

#[test]
fn with_wait_replicas_a_cluster_failover_loses_no_acknowledged_record() {
    let Some(mut cluster) = recd_features::testing::RedisCluster::start() else {
        return;
    };
    let config = BusConfig {
        events: cluster.url(),
        partitions: 4,
        wait_replicas: 1,
        connect_timeout_ms: 500,
        response_timeout_ms: 1_000,
        ..BusConfig::default()
    };
    let bus = RedisStreams::open(config.clone()).unwrap();
    let mut acked: Vec<(Position, Record)> = Vec::new();
    for round in 0..50 {
        let records: Vec<Record> = (0..8).map(|u| event(u, round)).collect();
        let positions = bus.append(&records).wait().unwrap();
        acked.extend(positions.into_iter().zip(records));
    }
    // Kill the master of partition 0's stream: its replica takes over, alone. Until the
    // killed node is back as its replica, WAIT 1 cannot succeed there: those appends are
    // refused, never acknowledged without a copy.
    let killed = cluster.kill_master(Some(&config.stream_key(0)));
    let mut refused = 0;
    let mut n = 1_000;
    let mut append = |acked: &mut Vec<(Position, Record)>, refused: &mut usize| {
        let records: Vec<Record> = (0..8).map(|u| event(u, n)).collect();
        n += 1;
        match bus.append(&records).wait() {
            Ok(positions) => acked.extend(positions.into_iter().zip(records)),
            Err(BusError::Unavailable(_)) => *refused += 1,
            Err(e) => panic!("{e}"),
        }
    };
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(6) {
        append(&mut acked, &mut refused);
    }
    cluster.restart_node(killed);
    cluster.wait_ok(std::time::Duration::from_secs(30));
    let before = acked.len();
    let resumed = std::time::Instant::now();
    while acked.len() < before + 200 {
        assert!(
            resumed.elapsed() < std::time::Duration::from_secs(30),
            "appends did not resume once the cluster had its replica back"
        );
        append(&mut acked, &mut refused);
    }
    cluster.wait_ok(std::time::Duration::from_secs(30));
    let reader = RedisStreams::open(config).unwrap();
    let read: HashMap<Position, Record> = read_all(&reader).into_iter().collect();
    for (position, record) in &acked {
        assert_eq!(
            read.get(position),
            Some(record),
            "acknowledged record lost at {position:?}"
        );
    }
    eprintln!(
        "failover: {} records acknowledged, {refused} appends refused meanwhile",
        acked.len()
    );
}

#[test]
fn the_catalog_channel_keeps_every_record_in_order_whatever_the_retention() {
    let Some(server) = RedisServer::start_durable() else {
        return;
    };
    let bus = RedisStreams::open(BusConfig {
        max_len: 10,
        ..config(&server, 2)
    })
    .unwrap();
    let items: Vec<Record> = (0..50)
        .map(|n| Record::Item {
            at_ms: 1_700_000_000_000 + n,
            item: recd_types::Item::new(ItemId::parse(format!("item-{n}")).unwrap(), "t"),
        })
        .collect();
    for chunk in items.chunks(7) {
        let positions = bus.append_catalog(chunk).wait().unwrap();
        assert!(positions.iter().all(|p| p.partition == 2), "{positions:?}");
    }
    // Events and the catalog share the writer but not their streams.
    bus.append(&[event(1, 1)]).wait().unwrap();
    let log = bus.catalog_reader().unwrap();
    let read: Vec<Record> = log.read_from(0).unwrap().map(|e| e.unwrap().1).collect();
    assert_eq!(
        read, items,
        "all 50, in order: max_len trims events, never the catalog"
    );
    let events: usize = (0..2)
        .map(|p| bus.partition(p).read_from(0).unwrap().count())
        .sum();
    assert_eq!(events, 1);
}
