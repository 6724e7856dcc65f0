//! Positions on a partitioned bus, and which partition a record goes to.
//!
//! A Redis stream entry id is `<ms>-<seq>`: the append time on the Redis server and a
//! sequence within that millisecond, increasing along the stream. The [`recd_store::EventLog`]
//! of a partition needs a `u64` offset that grows along the stream and that `offset + 1`
//! steps past; `ms << SEQ_BITS | seq` is one (ids with a larger sequence, which Redis does not
//! produce for a stream written at our rates, are refused as foreign). Offsets are therefore
//! sparse: they order and address records, they do not count them.

use recd_types::Record;
use serde::{Deserialize, Serialize};

/// Bits of an offset that hold the entry's sequence within its millisecond.
const SEQ_BITS: u32 = 20;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;

/// Where a record is on the bus: its partition and its offset within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    /// The partition (a stream per partition).
    pub partition: u32,
    /// The offset within the partition.
    pub offset: u64,
}

/// The offset of stream entry id `ms-seq`, or `None` when the id cannot be one of ours.
pub(crate) fn offset_of_id(id: &str) -> Option<u64> {
    let (ms, seq) = id.split_once('-')?;
    let ms: u64 = ms.parse().ok()?;
    let seq: u64 = seq.parse().ok()?;
    (seq <= SEQ_MASK && ms < (1 << (64 - SEQ_BITS))).then_some(ms << SEQ_BITS | seq)
}

/// The stream entry id at `offset` (an inclusive lower bound for XRANGE).
pub(crate) fn id_of_offset(offset: u64) -> String {
    format!("{}-{}", offset >> SEQ_BITS, offset & SEQ_MASK)
}

/// The first offset of millisecond `ms` since the epoch (negative times map to 0).
pub(crate) fn offset_of_ms(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0) << SEQ_BITS
}

/// The partition of `key` among `partitions`: the engine's stable hash of its bytes, so every
/// process and every build agree.
pub fn partition_of(key: &str, partitions: u32) -> u32 {
    (recd_types::fnv1a(key.bytes()) % u64::from(partitions.max(1))) as u32
}

/// The key that places a record: its user for events, profiles, tombstones and impressions
/// (one user's records stay in order), its item for an item record.
pub(crate) fn record_key(record: &Record) -> &str {
    match record {
        Record::Event(e) => e.user_id.as_str(),
        Record::Item { item, .. } => item.id.as_str(),
        Record::User { user, .. } => user.id.as_str(),
        Record::UserDeleted { user, .. } => user.as_str(),
        Record::Impression(i) => i
            .user_id
            .as_ref()
            .map_or(i.request_id.as_str(), |u| u.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_offsets_map_both_ways_in_order() {
        let ids = [
            "0-1",
            "1700000000000-0",
            "1700000000000-1",
            "1700000000001-0",
        ];
        let offsets: Vec<u64> = ids.iter().map(|i| offset_of_id(i).unwrap()).collect();
        assert!(offsets.windows(2).all(|w| w[0] < w[1]));
        for (id, o) in ids.iter().zip(&offsets) {
            assert_eq!(&id_of_offset(*o), id);
        }
        // offset + 1 is the next possible id, so XRANGE from it skips the entry itself.
        assert_eq!(id_of_offset(offsets[1] + 1), "1700000000000-1");
        assert_eq!(offset_of_ms(1_700_000_000_000), offsets[1]);
        assert_eq!(offset_of_ms(-5), 0);
    }

    #[test]
    fn foreign_ids_are_refused() {
        for id in [
            "",
            "abc",
            "1-",
            "-1",
            "1-2-3",
            "1700000000000-2000000",
            "x-1",
        ] {
            assert_eq!(offset_of_id(id), None, "{id}");
        }
    }

    #[test]
    fn partitions_are_stable_and_spread() {
        // Fixed values: every process and build must agree on where a user's records go.
        assert_eq!(partition_of("u1", 16), partition_of("u1", 16));
        let mut seen = vec![0u32; 8];
        for n in 0..8_000 {
            seen[partition_of(&format!("user-{n}"), 8) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| (800..1_200).contains(&c)), "{seen:?}");
        assert_eq!(partition_of("anything", 0), 0);
    }
}
