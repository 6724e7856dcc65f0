//! Property tests of the segment format: the frame parser ([`frame::parse`],
//! [`frame::decode_record`]) and the walker ([`walk::Walker`]). Any bytes are parsed, decoded
//! and walked without a panic and to an end; every record encodes and parses back to itself
//! with its offset; after any damage, the walk returns only original records at their own
//! offsets, and what it returns plus what it reports lost is everything.
//!
//! The hand-picked corruption cases are in `tests/it/corrupt.rs`; these add arbitrary ones.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::sample::select;
use recd_types::{Context, Event, EventKind, Gender, Item, ItemId, Record, User, UserId};

use super::frame::{self, Format, Parsed, RECORD_SCHEMA};
use super::walk::{Step, Walker};
use super::{HEADER_LEN, Offset};

fn config() -> ProptestConfig {
    // PROPTEST_CASES overrides it for a longer run by hand.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Any string of up to 12 characters: the log stores what it is given (validation happens
/// before it), so the round trip must hold for text no id rule would let through.
fn any_text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect())
}

fn id() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::char::range('a', 'z'), 1..8).prop_map(|c| c.into_iter().collect())
}

fn map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(any_text(), any_text(), 0..3)
}

// Floats are finite: NaN is not equal to itself, and the round trip is checked with `==`.
fn event() -> impl Strategy<Value = Event> {
    (
        (
            id(),
            prop::option::of(id()),
            select(EventKind::ALL.to_vec()),
        ),
        (
            prop::option::of(-1e6f32..1e6),
            prop::option::of(any_text()),
            any::<i64>(),
        ),
        (
            prop::option::of(any_text()),
            prop::option::of(any_text()),
            map(),
        ),
        (prop::option::of(any::<u32>()), prop::option::of(any_text())),
    )
        .prop_map(
            |((u, i, kind), (value, query, t), (session, device, extra), (dwell, request))| {
                let mut e = Event::new(
                    UserId::parse(u).unwrap(),
                    i.map(|i| ItemId::parse(i).unwrap()),
                    kind,
                    t,
                );
                e.value = value;
                e.query = query;
                e.session_id = session;
                e.context = Context {
                    device,
                    page: None,
                    extra,
                };
                e.dwell_ms = dwell;
                e.request_id = request;
                e
            },
        )
}

fn record() -> impl Strategy<Value = Record> {
    let item = (
        (id(), any_text(), prop::option::of(any_text())),
        (
            prop::collection::vec(any_text(), 0..3),
            prop::option::of(-1e9f64..1e9),
        ),
        (
            prop::option::of(any::<i64>()),
            any::<bool>(),
            any::<bool>(),
            map(),
            any::<i64>(),
        ),
    )
        .prop_map(
            |(
                (id, title, category),
                (tags, price),
                (created, available, sponsored, attributes, at_ms),
            )| {
                let mut item = Item::new(ItemId::parse(id).unwrap(), title);
                item.category = category;
                item.tags = tags;
                item.price = price;
                item.created_at_ms = created;
                item.available = available;
                item.sponsored = sponsored;
                item.attributes = attributes;
                Record::Item { at_ms, item }
            },
        );
    let user = (
        (
            id(),
            prop::option::of(any::<i64>()),
            prop::option::of(any_text()),
        ),
        (
            prop::option::of(any::<u8>()),
            prop::option::of(select(vec![Gender::Female, Gender::Male, Gender::Other])),
        ),
        (prop::collection::vec(any_text(), 0..3), map(), any::<i64>()),
    )
        .prop_map(
            |((id, signup, country), (age, gender), (interests, attributes, at_ms))| {
                let mut user = User::new(UserId::parse(id).unwrap());
                user.signup_ms = signup;
                user.country = country;
                user.age = age;
                user.gender = gender;
                user.interests = interests;
                user.attributes = attributes;
                Record::User { at_ms, user }
            },
        );
    prop_oneof![4 => event().prop_map(Record::Event), 1 => item, 1 => user]
}

fn frames(records: &[Record], first: Offset) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode_records(records, &mut out).unwrap();
    frame::stamp_frames(&mut out, first);
    out
}

/// A segment of format `frames` (1 or 2) starting at `base`: the header, then `body`.
fn segment(frames: u32, base: Offset, body: &[u8]) -> Vec<u8> {
    let mut bytes = frame::segment_header(base).to_vec();
    if frames == 1 {
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        bytes[12..16].copy_from_slice(&0u32.to_le_bytes());
    }
    bytes.extend_from_slice(body);
    bytes
}

/// What a walk over a segment yields.
#[derive(Debug, Default)]
struct Walked {
    records: Vec<(Offset, Record)>,
    undecodable: usize,
    n_lost: u64,
}

/// Walks the segment `bytes` (written to a temporary file) to its end. Fails the test if the
/// walk does not end within a step per byte, or a damage report is out of bounds.
fn walk(bytes: &[u8], base: Offset, end_hint: Option<Offset>) -> Result<Walked, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segment.log");
    std::fs::write(&path, bytes).unwrap();
    let mut walker = Walker::open(&path, base, None, end_hint).map_err(|e| e.to_string())?;
    let schema = walker.format().schema;
    let mut res = Walked::default();
    for _ in 0..=bytes.len() {
        match walker.step().unwrap() {
            Step::Frame { offset, .. } => match frame::decode_record(schema, walker.payload()) {
                Ok(record) => res.records.push((offset, record)),
                Err(_) => res.undecodable += 1,
            },
            Step::Damage(d) => {
                assert!(d.start < d.end && d.end <= bytes.len() as u64, "{d:?}");
                res.n_lost += d.n_lost;
            }
            Step::End => return Ok(res),
        }
    }
    panic!("the walk did not end within {} steps", bytes.len() + 1);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_parse_and_decode_without_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        for format in [Format::CURRENT, Format { frames: 1, schema: 1 }] {
            match frame::parse(format, &bytes) {
                Parsed::Frame { size, payload, .. } => {
                    prop_assert!(size <= bytes.len() && payload.end == size);
                    let _ = frame::decode_record(format.schema, &bytes[payload]);
                }
                Parsed::Short { need } => prop_assert!(need > bytes.len()),
                Parsed::Bad(_) => {}
            }
        }
        for schema in 0..=RECORD_SCHEMA + 1 {
            let _ = frame::decode_record(schema, &bytes);
        }
        let _ = frame::check_header(&bytes, 0);
    }

    #[test]
    fn records_round_trip_through_frames(records in prop::collection::vec(record(), 1..5), first in any::<u32>()) {
        let first = Offset::from(first);
        let bytes = frames(&records, first);
        let mut at = 0;
        for (i, want) in records.iter().enumerate() {
            let Parsed::Frame { size, payload, offset } = frame::parse(Format::CURRENT, &bytes[at..]) else {
                panic!("frame {i} does not parse");
            };
            prop_assert_eq!(offset, Some(first + i as u64));
            let got = frame::decode_record(RECORD_SCHEMA, &bytes[at..][payload]).unwrap();
            prop_assert_eq!(&got, want);
            at += size;
        }
        prop_assert_eq!(at, bytes.len());
    }

    #[test]
    fn any_segment_body_is_walked_to_its_end(
        body in prop::collection::vec(any::<u8>(), 0..400),
        frames_format in 1u32..=2,
        hint in prop::option::of(0u64..64),
    ) {
        let bytes = segment(frames_format, 5, &body);
        let walked = walk(&bytes, 5, hint.map(|h| 5 + h)).unwrap();
        prop_assert!(walked.records.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn damaged_segments_yield_only_their_own_records(
        records in prop::collection::vec(record(), 1..8),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let base = 100;
        let body = frames(&records, base);
        let mut bytes = segment(2, base, &body);
        let n = records.len() as u64;
        // Damage the frames only: a damaged header refuses the whole segment, as it must.
        for (at, mask) in &flips {
            let at = HEADER_LEN as usize + at.index(body.len());
            bytes[at] ^= mask;
        }
        if let Some(cut) = cut {
            bytes.truncate(HEADER_LEN as usize + cut.index(body.len()));
        }
        let walked = walk(&bytes, base, Some(base + n)).unwrap();
        prop_assert_eq!(walked.undecodable, 0);
        for (offset, record) in &walked.records {
            prop_assert!((base..base + n).contains(offset));
            prop_assert_eq!(record, &records[(offset - base) as usize]);
        }
        prop_assert!(walked.records.windows(2).all(|w| w[0].0 < w[1].0));
        let accounted = walked.records.len() as u64 + walked.n_lost;
        if cut.is_none() {
            // Damage inside the segment is reported with what it cost. (A cut at a frame
            // boundary is a clean end to the walker: the log's end offset tells the rest.)
            prop_assert_eq!(accounted, n);
        } else {
            prop_assert!(accounted <= n);
        }
        if flips.is_empty() && cut.is_none() {
            prop_assert_eq!(walked.records.len() as u64, n);
        }
    }
}
