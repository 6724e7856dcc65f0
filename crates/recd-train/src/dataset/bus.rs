//! The training data of a fleet, read from its event bus: the users' partitions and the
//! catalog channel (DECISIONS §3: in scaled mode the events live only on the bus).
//!
//! Offsets are per partition, never compared across them, and they need not be: a user's
//! events and their deletions are in the user's partition (the API process sends a deletion's
//! tombstone there), so a tombstone is ordered with the events it erases by that partition's
//! offsets; items come from the catalog channel alone (the last record of an id wins, by the
//! channel's order), and the channel's copies of tombstones are left to the partitions.
//! Each partition is read whole: the bus's retention (`[bus] max_len`, `retention_hours`)
//! bounds it, and the configured window is applied after, by the events' times.

use recd_store::EventLog;
use recd_types::Record;

use super::{Dataset, LoadStats, Loader, Part};
use crate::TrainError;
use crate::config::TrainConfig;

/// Where a training run reads its data.
pub enum Source<'a> {
    /// One log holding events and catalog in order: the data dir's.
    Log(&'a dyn EventLog),
    /// A bus: its partitions (any order) and its catalog channel.
    Bus {
        /// Every partition of the bus.
        partitions: Vec<&'a dyn EventLog>,
        /// The catalog channel.
        catalog: &'a dyn EventLog,
    },
}

impl Source<'_> {
    /// The data set within the configured window, as of `now_ms`.
    pub fn load_at(
        &self,
        config: &TrainConfig,
        now_ms: i64,
    ) -> Result<(Dataset, LoadStats), TrainError> {
        match self {
            Source::Log(log) => Dataset::load_at(*log, config, now_ms),
            Source::Bus {
                partitions,
                catalog,
            } => load_bus(partitions, *catalog, config, now_ms),
        }
    }
}

fn load_bus(
    partitions: &[&dyn EventLog],
    catalog: &dyn EventLog,
    config: &TrainConfig,
    now_ms: i64,
) -> Result<(Dataset, LoadStats), TrainError> {
    let mut loader = Loader {
        skip_items: true,
        ..Loader::default()
    };
    let mut part = Part::default();
    for log in partitions {
        let read = loader.read(*log, 0, None, config)?;
        part.interactions.extend(read.interactions);
        part.offsets.extend(read.offsets);
        part.searches.extend(read.searches);
    }
    loader.skip_items = false;
    let mut n_catalog = 0u64;
    for entry in catalog.read_from(0)? {
        let (offset, record) = entry?;
        if let Record::Item { .. } = record {
            n_catalog += 1;
            loader.catalog(offset, record);
        }
    }
    let stats = LoadStats {
        start_offset: 0,
        records_read: loader.n_read,
        catalog_records_before: n_catalog,
    };
    tracing::info!(
        partitions = partitions.len(),
        records_read = stats.records_read,
        items = n_catalog,
        "read the bus's partitions and its catalog channel"
    );
    let mut ds = loader.finish(part);
    ds.apply_window(config.window_days, now_ms);
    ds.order_items_by_use(ds.window_ms.1 - (config.holdout_days * super::DAY_MS) as i64);
    Ok((ds, stats))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use recd_store::{FileLog, LogConfig};
    use recd_types::{Event, EventKind, Item, ItemId, UserId};

    use super::*;

    fn log(dir: &std::path::Path, records: &[Record]) -> FileLog {
        let log = FileLog::open(
            dir,
            LogConfig {
                segment_bytes: 1 << 20,
                group_commit_window: Duration::ZERO,
            },
        )
        .unwrap();
        log.append(records).unwrap();
        log
    }

    fn buy(user: &str, item: &str, at: i64) -> Record {
        Record::Event(Event::new(
            UserId::parse(user).unwrap(),
            Some(ItemId::parse(item).unwrap()),
            EventKind::Purchase,
            at,
        ))
    }

    fn search(user: &str, query: &str, at: i64) -> Record {
        let mut e = Event::new(UserId::parse(user).unwrap(), None, EventKind::Search, at);
        e.query = Some(query.into());
        Record::Event(e)
    }

    #[test]
    fn searches_are_kept_for_users_with_interactions_and_forgotten_with_a_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let records = [
            search("bob", "forgotten", 500),
            buy("bob", "a", 600),
            Record::UserDeleted {
                at_ms: 700,
                user: UserId::parse("bob").unwrap(),
            },
            buy("alice", "a", 1_000),
            search("alice", "  toy story ", 1_500),
            search("carol", "only searched", 1_600),
            search("bob", "after", 1_700),
            buy("bob", "b", 1_800),
            search("alice", "toy story", 1_900),
            search("alice", "   ", 2_000),
        ];
        let p0 = log(&dir.path().join("p0"), &records);
        let channel = log(&dir.path().join("catalog"), &[item("a", "A")]);
        let source = Source::Bus {
            partitions: vec![&p0],
            catalog: &channel,
        };
        let (ds, _) = source.load_at(&TrainConfig::default(), 10_000).unwrap();
        let named: Vec<(&str, i64, &str)> = ds
            .searches
            .iter()
            .map(|s| {
                (
                    ds.users[s.user as usize].as_str(),
                    s.ts,
                    ds.queries[s.query as usize].as_str(),
                )
            })
            .collect();
        // Carol has no interaction (no user row); bob's search before his deletion goes
        // with it; a blank query says nothing; texts are trimmed and numbered once.
        assert_eq!(
            named,
            [
                ("alice", 1_500, "toy story"),
                ("bob", 1_700, "after"),
                ("alice", 1_900, "toy story"),
            ]
        );
        assert_eq!(ds.queries.iter().filter(|q| *q == "toy story").count(), 1);
    }

    fn item(id: &str, title: &str) -> Record {
        Record::Item {
            at_ms: 0,
            item: Item::new(ItemId::parse(id).unwrap(), title),
        }
    }

    #[test]
    fn partitions_and_the_catalog_channel_make_one_data_set() {
        let dir = tempfile::tempdir().unwrap();
        // Partition 0: alice, deleted after two purchases, then back as a new user; an item
        // record here (not where items live on a bus) is not taken.
        let p0 = log(
            &dir.path().join("p0"),
            &[
                buy("alice", "a", 1_000),
                buy("alice", "b", 2_000),
                Record::UserDeleted {
                    at_ms: 3_000,
                    user: UserId::parse("alice").unwrap(),
                },
                buy("alice", "c", 4_000),
                item("stray", "not from the channel"),
            ],
        );
        // Partition 1: bob, whose offsets overlap alice's but are never compared with them.
        let p1 = log(
            &dir.path().join("p1"),
            &[
                buy("bob", "a", 1_500),
                buy("bob", "b", 2_500),
                buy("bob", "b", 3_500),
            ],
        );
        // The catalog channel: items (the later record of an id wins), and a copy of the
        // deletion, which the partition already carries.
        let channel = log(
            &dir.path().join("catalog"),
            &[
                item("a", "first title"),
                item("b", "B"),
                Record::UserDeleted {
                    at_ms: 3_000,
                    user: UserId::parse("bob").unwrap(),
                },
                item("a", "A"),
            ],
        );
        let source = Source::Bus {
            partitions: vec![&p0, &p1],
            catalog: &channel,
        };
        let config = TrainConfig {
            window_days: None,
            ..TrainConfig::default()
        };
        let (ds, stats) = source.load_at(&config, 10_000).unwrap();
        assert_eq!(stats.records_read, 8);
        assert_eq!(stats.catalog_records_before, 3);
        let mut pairs: Vec<(String, String)> = ds
            .interactions
            .iter()
            .map(|i| {
                (
                    ds.users[i.user as usize].clone(),
                    ds.items[i.item as usize].clone(),
                )
            })
            .collect();
        pairs.sort();
        let expect = [("alice", "c"), ("bob", "a"), ("bob", "b"), ("bob", "b")];
        assert_eq!(
            pairs,
            expect.map(|(u, i)| (u.to_string(), i.to_string())),
            "alice's events before her deletion are gone; the channel's tombstone is not applied"
        );
        let titles: Vec<(String, Option<String>)> = ds
            .items
            .iter()
            .zip(&ds.catalog)
            .map(|(id, item)| (id.clone(), item.as_ref().map(|i| i.title.clone())))
            .collect();
        assert!(
            titles.contains(&("a".into(), Some("A".into()))),
            "{titles:?}"
        );
        assert!(!titles.iter().any(|(id, _)| id == "stray"), "{titles:?}");
    }
}
