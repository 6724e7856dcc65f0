//! The Kafka bus against a real Kafka-protocol broker (Tansu, started by the tests on
//! loopback; see `recd_bus::testing`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset as KafkaOffset, TopicPartitionList};
use recd_bus::testing::KafkaBroker;
use recd_bus::{BusConfig, BusError, EventBus, KafkaBus, Position};
use recd_store::EventLog;
use recd_types::{ItemId, Record};

use crate::event;

fn config(broker: &KafkaBroker, topic: &str, partitions: u32) -> BusConfig {
    BusConfig {
        events: broker.url(topic),
        partitions,
        connect_timeout_ms: 1_000,
        response_timeout_ms: 2_000,
        // Tansu holds a fetch for its whole wait even when records arrive.
        kafka_fetch_wait_ms: 5,
        ..BusConfig::default()
    }
}

/// Waits until `log`'s end reaches `end` (a view learns the end of a Tansu partition from
/// its fetches, which trail an acknowledged append by up to one fetch).
fn end_reaches(log: &dyn EventLog, end: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while log.end_offset() < end {
        assert!(
            Instant::now() < deadline,
            "end {} short of {end}",
            log.end_offset()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(log.end_offset(), end);
}

/// Every record of every partition, with its position, once each partition's end reaches
/// what was acknowledged in it.
fn read_all(bus: &KafkaBus, acked: &[(Position, Record)]) -> Vec<(Position, Record)> {
    let mut all = Vec::new();
    for p in 0..bus.partitions() {
        let log = bus.partition(p).unwrap();
        let end = acked
            .iter()
            .filter(|(at, _)| at.partition == p)
            .map(|(at, _)| at.offset + 1)
            .max()
            .unwrap_or(0);
        end_reaches(&log, end);
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
    let Some(broker) = KafkaBroker::start() else {
        return;
    };
    let bus = KafkaBus::open(config(&broker, "order", 4)).unwrap();
    // Concurrent callers, each with interleaved users: librdkafka batches them.
    let acked: Vec<(Position, Record)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let bus = &bus;
                s.spawn(move || {
                    let mut acked = Vec::new();
                    for round in 0..10 {
                        let records: Vec<Record> = (0..5)
                            .map(|i| event(t * 5 + i, (round * 5 + i) as i64))
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
    let read = read_all(&bus, &acked);
    assert_eq!(
        read.len(),
        400,
        "every acknowledged record is on the topic once"
    );
    let at: HashMap<Position, &Record> = read.iter().map(|(p, r)| (*p, r)).collect();
    for (position, record) in &acked {
        assert_eq!(at.get(position), Some(&record), "{position:?}");
        assert_eq!(position.partition, bus.partition_of(record));
    }
    // Each user's records are in one partition, in the order they were appended.
    let mut last: HashMap<String, (u32, u64, i64)> = HashMap::new();
    for (position, record) in &read {
        let Record::Event(e) = record else { panic!() };
        if let Some((p, o, ts)) = last.get(e.user_id.as_str()) {
            assert_eq!(*p, position.partition);
            assert!(*o < position.offset && *ts < e.timestamp_ms, "{e:?}");
        }
        last.insert(
            e.user_id.to_string(),
            (position.partition, position.offset, e.timestamp_ms),
        );
    }
}

#[test]
fn offsets_are_dense_and_a_waiting_reader_sees_an_append_at_once() {
    let Some(broker) = KafkaBroker::start() else {
        return;
    };
    let bus = KafkaBus::open(config(&broker, "dense", 1)).unwrap();
    let log = bus.partition(0).unwrap();
    assert_eq!(log.end_offset(), 0);
    let records: Vec<Record> = (0..10).map(|n| event(n as usize, n)).collect();
    let positions = bus.append(&records).wait().unwrap();
    let offsets: Vec<u64> = positions.iter().map(|p| p.offset).collect();
    assert_eq!(offsets, (0..10).collect::<Vec<u64>>());
    end_reaches(&log, 10);
    let tail: Vec<u64> = log.read_from(6).unwrap().map(|e| e.unwrap().0).collect();
    assert_eq!(tail, vec![6, 7, 8, 9]);
    // Reading on from where the last read stopped, and back from an earlier offset.
    let again: Vec<u64> = log.read_from(3).unwrap().map(|e| e.unwrap().0).collect();
    assert_eq!(again, (3..10).collect::<Vec<u64>>());

    use recd_bus::BusPartition;
    let waiter = bus.partition(0).unwrap();
    assert!(!waiter.wait_for(10, Duration::from_millis(200)).unwrap());
    assert!(waiter.wait_for(9, Duration::from_millis(200)).unwrap());
    let woken = std::thread::scope(|s| {
        let t = s.spawn(|| {
            let started = Instant::now();
            let found = waiter.wait_for(10, Duration::from_secs(5)).unwrap();
            (found, started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(100));
        bus.append(&[event(1, 99)]).wait().unwrap();
        t.join().unwrap()
    });
    assert!(woken.0 && woken.1 < Duration::from_secs(2), "{woken:?}");
    end_reaches(&log, 11);
}

#[test]
fn foreign_messages_are_counted_skipped_and_reported() {
    let Some(broker) = KafkaBroker::start() else {
        return;
    };
    let bus = KafkaBus::open(config(&broker, "foreign", 1)).unwrap();
    bus.append(&[event(1, 1)]).wait().unwrap();
    // Someone else's producer writes to the topic: no schema header, then garbage bytes
    // under a schema header.
    let other: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .create()
        .unwrap();
    other
        .send(
            BaseRecord::<str, str>::to("foreign")
                .partition(0)
                .payload("{\"json\":1}"),
        )
        .unwrap();
    let headers = rdkafka::message::OwnedHeaders::new().insert(rdkafka::message::Header {
        key: "s",
        value: Some("3"),
    });
    other
        .send(
            BaseRecord::<str, [u8]>::to("foreign")
                .partition(0)
                .payload(&[0xff, 0x00, 0x13][..])
                .headers(headers),
        )
        .unwrap();
    other.flush(Duration::from_secs(5)).unwrap();
    bus.append(&[event(2, 2)]).wait().unwrap();

    let log = bus.partition(0).unwrap();
    end_reaches(&log, 4);
    let read: Vec<(u64, Record)> = log.read_from(0).unwrap().map(|e| e.unwrap()).collect();
    assert_eq!(
        read.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        vec![0, 3],
        "ours are read, the foreign ones skipped"
    );
    let damage = log.damage();
    assert_eq!(damage.len(), 2, "{damage:?}");
    assert_eq!(damage[0].first_lost, 1);
    assert!(
        damage[0].reason.contains("header s"),
        "{}",
        damage[0].reason
    );
    assert_eq!(damage[1].first_lost, 2);
}

#[test]
fn a_topic_with_other_partitions_is_refused_naming_the_setting() {
    let Some(broker) = KafkaBroker::start() else {
        return;
    };
    KafkaBus::open(config(&broker, "sized", 4)).unwrap();
    let Err(e) = KafkaBus::open(config(&broker, "sized", 8)) else {
        panic!("a topic of 4 partitions opened with bus.partitions = 8");
    };
    assert!(matches!(e, BusError::Config(_)), "{e}");
    assert!(e.to_string().contains("bus.partitions"), "{e}");
}

#[test]
fn the_updaters_progress_is_the_consumer_groups_committed_offset() {
    let Some(broker) = KafkaBroker::start() else {
        return;
    };
    let config = config(&broker, "progress", 2);
    let bus = KafkaBus::open(config.clone()).unwrap();
    let log = bus.partition(1).unwrap();
    use recd_bus::BusPartition;
    log.commit(42);
    let group: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set("group.id", config.consumer_group())
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition("progress", 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let committed = group
            .committed_offsets(tpl.clone(), Duration::from_secs(2))
            .unwrap();
        let offset = committed.elements()[0].offset();
        if offset == KafkaOffset::Offset(42) {
            break;
        }
        assert!(Instant::now() < deadline, "committed offset {offset:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_broker_that_is_down_fails_appends_and_readiness_never_acknowledges() {
    let Some(mut broker) = KafkaBroker::start() else {
        return;
    };
    let mut config = config(&broker, "down", 2);
    config.kafka_delivery_timeout_ms = 2_000;
    let bus = KafkaBus::open(config).unwrap();
    bus.append(&[event(1, 1)]).wait().unwrap();
    assert!(bus.check().is_ok());
    broker.kill();
    let started = Instant::now();
    let result = bus.append(&[event(2, 2), event(3, 3)]).wait();
    assert!(
        matches!(result, Err(BusError::Unavailable(_))),
        "{result:?}"
    );
    eprintln!("down broker: append failed after {:?}", started.elapsed());
    // librdkafka scans for timed-out records about once a second, and a loaded machine (the
    // whole suite on 2 cores) adds more: bounded, not exact.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(bus.check().is_err());
}

#[test]
fn the_catalog_channel_is_a_topic_of_its_own_read_whole_in_order() {
    let Some(broker) = KafkaBroker::start() else {
        return;
    };
    let bus = KafkaBus::open(config(&broker, "shop", 3)).unwrap();
    let items: Vec<Record> = (0..20)
        .map(|n| Record::Item {
            at_ms: 1_700_000_000_000 + n,
            item: recd_types::Item::new(ItemId::parse(format!("item-{n}")).unwrap(), "t"),
        })
        .collect();
    let mut acked = Vec::new();
    for chunk in items.chunks(6) {
        let positions = bus.append_catalog(chunk).wait().unwrap();
        assert!(positions.iter().all(|p| p.partition == 3), "{positions:?}");
        acked.extend(positions);
    }
    let at = bus.append(&[event(1, 1)]).wait().unwrap()[0];
    let log = bus.catalog_reader().unwrap();
    end_reaches(log.as_ref(), 20);
    let read: Vec<Record> = log.read_from(0).unwrap().map(|e| e.unwrap().1).collect();
    assert_eq!(read, items);
    // The event partitions hold the one event, none of the catalog.
    for p in 0..3 {
        let log = bus.partition(p).unwrap();
        end_reaches(&log, u64::from(p == at.partition));
        assert_eq!(
            log.read_from(0).unwrap().count(),
            usize::from(p == at.partition)
        );
    }
}
