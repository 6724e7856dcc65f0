//! The event log's frames and segments: any bytes are parsed, decoded and walked to an end,
//! never a panic. The first byte picks the frame format; the rest is parsed as frames, and
//! walked as a segment after a valid header, and after valid frames it then damages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use recd_store::log::fuzzing;
use recd_types::{Event, EventKind, ItemId, Record, UserId};

fuzz_target!(|bytes: &[u8]| {
    let Some((&first, rest)) = bytes.split_first() else {
        return;
    };
    let frames = if first & 1 == 0 { 2 } else { 1 };
    fuzzing::frames(frames, 1, rest);
    let mut segment = fuzzing::header(frames, 3);
    segment.extend_from_slice(rest);
    fuzzing::segment(
        &segment,
        3,
        (first & 2 != 0).then_some(3 + u64::from(first >> 2)),
    );
    // Valid frames with the input xor-ed over them: reaches the resync paths that random
    // bytes rarely get to (a damaged frame followed by intact ones).
    if frames == 2 {
        let records: Vec<Record> = (0..4)
            .map(|n| {
                Record::Event(Event::new(
                    UserId::parse(format!("u{n}")).unwrap(),
                    Some(ItemId::parse("i").unwrap()),
                    EventKind::View,
                    n,
                ))
            })
            .collect();
        let mut segment = fuzzing::header(2, 3);
        let mut body = fuzzing::encode(&records, 3);
        for (b, x) in body.iter_mut().zip(rest) {
            *b ^= x;
        }
        segment.extend_from_slice(&body);
        fuzzing::segment(&segment, 3, Some(7));
    }
});
