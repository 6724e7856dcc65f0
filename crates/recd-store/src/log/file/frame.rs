//! The on-disk format of a segment: a fixed header, then length-prefixed, CRC-checked frames.
//!
//! ```text
//! header (24 bytes): magic "RECDLOG\0" | frame format u32 LE | record schema u32 LE | base offset u64 LE
//! frame, format 2:   payload length u32 LE | crc32 u32 LE | offset u64 LE | payload
//!                    (the crc covers length | payload | offset, in that order)
//! frame, format 1:   payload length u32 LE | crc32 of payload u32 LE | payload
//! ```
//!
//! The header lets us refuse files that are not ours (or are from a future format) instead of
//! misreading them, and repeats the base offset so a renamed file is caught. Format 2 frames
//! carry their own offset, covered by the CRC with the length: after damage, a reader finds
//! the next frame by searching for a position where length, offset and CRC all agree, and
//! that frame says which offset it holds, so the records lost in between keep their offsets
//! as a gap and nothing after them is renumbered. Format 1 frames (written by earlier
//! builds) are still read; a writer never appends to a format 1 segment.
//!
//! The record schema says how a payload decodes (see [`decode_record`]): each segment is
//! written by one build, so one number per segment is enough. A build that changes `Record`
//! keeps a decoder for every schema it can find on disk.
//!
//! The CRC puts the offset last so that appenders can compute it over length and payload on
//! their own thread (the encoder leaves that partial CRC in the CRC field) and the single
//! writer thread, which alone knows the offsets, only extends it by eight bytes
//! ([`stamp_frames`]).

use recd_types::{Record, ValidationError};

use super::super::Offset;

/// Size of the segment header in bytes.
pub(super) const HEADER_LEN: u64 = 24;
const MAGIC: [u8; 8] = *b"RECDLOG\0";
/// The frame format this build writes.
pub(super) const FRAME_FORMAT: u32 = 2;
/// The record schema this build writes.
///
/// 1: the first `Record` (frozen in `schema_v1`). 2: events carry an optional `event_id`,
/// and `Record::UserDeleted` (a tombstone) exists. 3: `Record::Impression` exists (appended as
/// the last variant, so schema 2 payloads decode as schema 3 unchanged).
pub(crate) const RECORD_SCHEMA: u32 = 3;
/// Largest payload we write or accept. A length above it on disk is corruption (a torn or
/// overwritten length field), and refusing it keeps a bad length from making us allocate
/// gigabytes. Real records are a few hundred bytes; catalog items with long descriptions stay
/// far below this.
pub(crate) const MAX_PAYLOAD_LEN: u32 = 16 << 20;

/// How the frames of one segment are laid out and how their payloads decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Format {
    /// 1 (no offset in frames) or 2.
    pub frames: u32,
    /// The `Record` schema of the payloads.
    pub schema: u32,
}

impl Format {
    /// What this build writes.
    pub const CURRENT: Format = Format {
        frames: FRAME_FORMAT,
        schema: RECORD_SCHEMA,
    };

    /// Bytes before the payload of each frame.
    pub fn prefix_len(self) -> usize {
        if self.frames == 1 { 8 } else { 16 }
    }
}

/// The header bytes of a segment whose first record has offset `base`.
pub(super) fn segment_header(base: Offset) -> [u8; HEADER_LEN as usize] {
    let mut header = [0u8; HEADER_LEN as usize];
    header[..8].copy_from_slice(&MAGIC);
    header[8..12].copy_from_slice(&FRAME_FORMAT.to_le_bytes());
    header[12..16].copy_from_slice(&RECORD_SCHEMA.to_le_bytes());
    header[16..24].copy_from_slice(&base.to_le_bytes());
    header
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Checks a segment header read from disk and returns its format; the error says what is
/// wrong, in words.
pub(super) fn check_header(header: &[u8], base: Offset) -> Result<Format, String> {
    if header.len() < HEADER_LEN as usize {
        return Err(format!(
            "header is {} bytes, expected {HEADER_LEN}",
            header.len()
        ));
    }
    if header[..8] != MAGIC {
        return Err("bad magic: not a recd log segment".into());
    }
    let frames = u32_at(header, 8);
    let format = match frames {
        // Format 1 kept this field reserved (0); its records are schema 1.
        1 if u32_at(header, 12) == 0 => Format { frames, schema: 1 },
        2 => Format {
            frames,
            schema: u32_at(header, 12),
        },
        _ => {
            return Err(format!(
                "frame format {frames} (reserved field {}), this build reads formats 1 and {FRAME_FORMAT}",
                u32_at(header, 12)
            ));
        }
    };
    if format.schema == 0 || format.schema > RECORD_SCHEMA {
        return Err(format!(
            "record schema {}, this build reads schemas 1 to {RECORD_SCHEMA}",
            format.schema
        ));
    }
    let stored_base = u64_at(header, 16);
    if stored_base != base {
        return Err(format!(
            "header says base offset {stored_base} but the file name says {base}"
        ));
    }
    Ok(format)
}

/// Appends the format-2 frames of `records` to `out` (postcard-encoding on the caller's
/// thread, so the single writer thread only copies bytes and stamps offsets). The offset
/// field is left zero and the CRC field holds the CRC of length and payload, until
/// [`stamp_frames`] completes both. Returns how many frames were added.
pub(super) fn encode_records(records: &[Record], out: &mut Vec<u8>) -> Result<u64, EncodeError> {
    let prefix = Format::CURRENT.prefix_len();
    let mut buf = std::mem::take(out);
    for (index, record) in records.iter().enumerate() {
        let start = buf.len();
        buf.extend_from_slice(&[0u8; 16]);
        buf = postcard::to_extend(record, buf).map_err(|e| EncodeError::Postcard {
            index,
            reason: e.to_string(),
        })?;
        let payload_len = buf.len() - start - prefix;
        if payload_len > MAX_PAYLOAD_LEN as usize {
            return Err(EncodeError::TooLarge(ValidationError::new(
                "record",
                format!(
                    "entry {index} encodes to {payload_len} bytes, over the log's limit of {MAX_PAYLOAD_LEN}"
                ),
            )));
        }
        let len = (payload_len as u32).to_le_bytes();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&len);
        hasher.update(&buf[start + prefix..]);
        buf[start..start + 4].copy_from_slice(&len);
        buf[start + 4..start + 8].copy_from_slice(&hasher.finalize().to_le_bytes());
    }
    *out = buf;
    Ok(records.len() as u64)
}

/// Gives the frames encoded by [`encode_records`] in `frames` the offsets `first`,
/// `first + 1`, ... and completes their CRCs. Returns the number of frames.
pub(super) fn stamp_frames(frames: &mut [u8], first: Offset) -> u64 {
    let prefix = Format::CURRENT.prefix_len();
    let mut pos = 0;
    let mut offset = first;
    while pos + prefix <= frames.len() {
        let len = u32_at(frames, pos) as usize;
        let partial = u32_at(frames, pos + 4);
        let offset_bytes = offset.to_le_bytes();
        let mut hasher = crc32fast::Hasher::new_with_initial(partial);
        hasher.update(&offset_bytes);
        frames[pos + 4..pos + 8].copy_from_slice(&hasher.finalize().to_le_bytes());
        frames[pos + 8..pos + 16].copy_from_slice(&offset_bytes);
        pos += prefix + len;
        offset += 1;
    }
    offset - first
}

/// Appends to `out` the frames of `frames` (format 2, one batch) at the positions `which`
/// (ascending).
pub(super) fn copy_frames(frames: &[u8], which: &[u32], out: &mut Vec<u8>) {
    let prefix = Format::CURRENT.prefix_len();
    let (mut pos, mut index) = (0usize, 0u32);
    let mut wanted = which.iter().peekable();
    while pos + prefix <= frames.len() && wanted.peek().is_some() {
        let size = prefix + u32_at(frames, pos) as usize;
        if wanted.peek() == Some(&&index) {
            wanted.next();
            out.extend_from_slice(&frames[pos..(pos + size).min(frames.len())]);
        }
        pos += size;
        index += 1;
    }
}

/// Why records could not be turned into frames.
#[derive(Debug)]
pub(super) enum EncodeError {
    /// The record is larger than a frame may be: the caller's fault.
    TooLarge(ValidationError),
    /// postcard refused the value (cannot happen for `Record`'s types; kept as an error anyway).
    Postcard { index: usize, reason: String },
}

/// What the bytes at a position hold.
#[derive(Debug, PartialEq)]
pub(super) enum Parsed {
    /// A whole frame with a matching CRC: its size on disk, its payload's range in the bytes
    /// given, and the offset it carries (format 2 only).
    Frame {
        size: usize,
        payload: std::ops::Range<usize>,
        offset: Option<Offset>,
    },
    /// The bytes end before the frame does: `need` bytes from the frame's start are needed
    /// to decide (a torn frame, if the data really ends there).
    Short { need: usize },
    /// The frame is complete but damaged, described in words.
    Bad(String),
}

/// Parses the frame at the start of `bytes`.
///
/// A length of 0 is rejected: postcard never encodes a `Record` to nothing, and a zeroed
/// region (what some filesystems leave after a crash when the size was updated but the data
/// was not) would otherwise parse as an endless run of valid empty frames.
pub(super) fn parse(format: Format, bytes: &[u8]) -> Parsed {
    let prefix = format.prefix_len();
    if bytes.len() < prefix {
        return Parsed::Short { need: prefix };
    }
    let len = u32_at(bytes, 0);
    let crc = u32_at(bytes, 4);
    if len == 0 || len > MAX_PAYLOAD_LEN {
        return Parsed::Bad(format!("implausible frame length {len}"));
    }
    let size = prefix + len as usize;
    if bytes.len() < size {
        return Parsed::Short { need: size };
    }
    let payload = prefix..size;
    let (actual, offset) = if format.frames == 1 {
        (crc32fast::hash(&bytes[payload.clone()]), None)
    } else {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&bytes[..4]);
        hasher.update(&bytes[payload.clone()]);
        hasher.update(&bytes[8..16]);
        (hasher.finalize(), Some(u64_at(bytes, 8)))
    };
    if actual != crc {
        return Parsed::Bad(format!(
            "crc mismatch (stored {crc:#010x}, computed {actual:#010x})"
        ));
    }
    Parsed::Frame {
        size,
        payload,
        offset,
    }
}

/// The length field of the frame at the start of `bytes`, if it is plausible (a resync
/// candidate must have one; checking it first skips most positions cheaply).
pub(super) fn plausible_len(bytes: &[u8]) -> Option<u32> {
    if bytes.len() < 4 {
        return None;
    }
    let len = u32_at(bytes, 0);
    (len > 0 && len <= MAX_PAYLOAD_LEN).then_some(len)
}

/// The offset field of a format-2 frame at the start of `bytes`.
pub(super) fn offset_field(bytes: &[u8]) -> Option<Offset> {
    (bytes.len() >= 16).then(|| u64_at(bytes, 8))
}

/// Decodes a frame's payload written under record `schema`; trailing bytes mean the frame is
/// not what we wrote.
///
/// One arm per schema this build can find on disk: schemas 2 and 3 are today's `Record` (3 only
/// appended a variant, and postcard numbers variants by position, so a schema 2 payload is a
/// valid schema 3 one); schema 1 is decoded into its frozen shape (`schema_v1`) and converted.
/// A build that changes a variant's shape freezes today's shape the same way and adds an arm
/// for the new number.
pub(crate) fn decode_record(schema: u32, payload: &[u8]) -> Result<Record, String> {
    match schema {
        1 => decode_exact::<super::schema_v1::Record>(payload).map(Record::from),
        2 | 3 => decode_exact::<Record>(payload),
        other => Err(format!("record schema {other} is not known to this build")),
    }
}

/// Whether a payload written under record `schema` holds something other than a catalog
/// record (an event, an impression), read from its first byte without decoding it: postcard
/// writes an enum's variant index first, as a varint; `Record::Event` is variant 0 in every
/// schema, `Item` 1, `User` 2, `UserDeleted` 3 (schema 2 on) and `Impression` 4 (schema 3).
/// Lets a reader that wants only the catalog records skip the rest, nearly all of a log, at
/// the cost of a CRC each.
pub(super) fn skips_catalog(schema: u32, payload: &[u8]) -> bool {
    match schema {
        1..=3 => !matches!(payload.first(), Some(1..=3)),
        // An unknown schema is decoded, and refused, by `decode_record`.
        _ => false,
    }
}

fn decode_exact<'a, T: serde::Deserialize<'a>>(payload: &'a [u8]) -> Result<T, String> {
    match postcard::take_from_bytes::<T>(payload) {
        Ok((record, [])) => Ok(record),
        Ok((_, rest)) => Err(format!("{} unexpected bytes after the record", rest.len())),
        Err(e) => Err(format!("cannot decode the record: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use recd_types::{Event, EventKind, ItemId, UserId};

    fn record(n: i64) -> Record {
        Record::Event(Event::new(
            UserId::parse(format!("u{n}")).unwrap(),
            Some(ItemId::parse("i").unwrap()),
            EventKind::Click,
            n,
        ))
    }

    fn frames(records: &[Record], first: Offset) -> Vec<u8> {
        let mut out = Vec::new();
        encode_records(records, &mut out).unwrap();
        assert_eq!(stamp_frames(&mut out, first), records.len() as u64);
        out
    }

    #[test]
    fn frames_round_trip_with_their_offsets() {
        let bytes = frames(&[record(1), record(2)], 40);
        let mut at = 0;
        for (n, offset) in [(1, 40), (2, 41)] {
            let Parsed::Frame {
                size,
                payload,
                offset: got,
            } = parse(Format::CURRENT, &bytes[at..])
            else {
                panic!("frame {n} does not parse");
            };
            assert_eq!(got, Some(offset));
            let payload = &bytes[at..][payload];
            assert_eq!(decode_record(RECORD_SCHEMA, payload).unwrap(), record(n));
            at += size;
        }
        assert_eq!(at, bytes.len());
    }

    #[test]
    fn every_truncation_of_a_frame_is_short() {
        let bytes = frames(&[record(1)], 0);
        for cut in 0..bytes.len() {
            assert!(
                matches!(parse(Format::CURRENT, &bytes[..cut]), Parsed::Short { .. }),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn every_flipped_bit_is_a_bad_or_different_frame() {
        let bytes = frames(&[record(1)], 7);
        for pos in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[pos] ^= 1 << bit;
                match parse(Format::CURRENT, &damaged) {
                    Parsed::Bad(_) | Parsed::Short { .. } => {}
                    Parsed::Frame { .. } => panic!("flip of bit {bit} at {pos} went unnoticed"),
                }
            }
        }
        let zeroes = [0u8; 64];
        assert!(matches!(parse(Format::CURRENT, &zeroes), Parsed::Bad(_)));
    }

    #[test]
    fn format_1_frames_parse_without_an_offset() {
        let payload = postcard::to_allocvec(&record(3)).unwrap();
        let mut bytes = (payload.len() as u32).to_le_bytes().to_vec();
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        let v1 = Format {
            frames: 1,
            schema: 1,
        };
        let Parsed::Frame { offset, size, .. } = parse(v1, &bytes) else {
            panic!("format 1 frame does not parse");
        };
        assert_eq!((offset, size), (None, bytes.len()));
    }

    #[test]
    fn headers_are_checked() {
        let header = segment_header(7);
        assert_eq!(check_header(&header, 7).unwrap(), Format::CURRENT);
        assert!(
            check_header(&header, 8)
                .unwrap_err()
                .contains("base offset")
        );
        assert!(
            check_header(&header[..10], 7)
                .unwrap_err()
                .contains("header is")
        );
        let mut other = header;
        other[0] = b'X';
        assert!(check_header(&other, 7).unwrap_err().contains("magic"));
        let mut future = header;
        future[8] = 9;
        assert!(check_header(&future, 7).unwrap_err().contains("format"));
        let mut schema = header;
        schema[12] = 9;
        assert!(check_header(&schema, 7).unwrap_err().contains("schema"));
        let mut old = header;
        old[8] = 1;
        old[12] = 0;
        assert_eq!(
            check_header(&old, 7).unwrap(),
            Format {
                frames: 1,
                schema: 1
            }
        );
    }

    #[test]
    fn each_schema_decodes_with_its_own_shape() {
        let (v1, want) = super::super::schema_v1::tests::schema_1_event_bytes();
        assert_eq!(decode_record(1, &v1).unwrap(), Record::Event(want.clone()));
        // The same bytes are not a schema-2 record: the event id is missing at the end.
        assert!(decode_record(2, &v1).is_err());
        let mut with_id = want;
        with_id.event_id = Some("e1".into());
        let tombstone = Record::UserDeleted {
            at_ms: 9,
            user: UserId::parse("u").unwrap(),
        };
        for record in [Record::Event(with_id), tombstone] {
            let bytes = postcard::to_allocvec(&record).unwrap();
            assert_eq!(decode_record(2, &bytes).unwrap(), record);
            // Schema 3 only appended a variant: schema 2 bytes are schema 3 bytes.
            assert_eq!(decode_record(3, &bytes).unwrap(), record);
        }
        assert!(decode_record(3, &v1).is_err());
        assert!(decode_record(4, &v1).unwrap_err().contains("schema 4"));
        let mut header = segment_header(0);
        header[12] = 1;
        assert_eq!(
            check_header(&header, 0).unwrap(),
            Format {
                frames: 2,
                schema: 1
            }
        );
    }

    #[test]
    fn oversized_records_are_refused_as_invalid() {
        let mut item_event = Event::new(
            UserId::parse("u").unwrap(),
            Some(ItemId::parse("i").unwrap()),
            EventKind::View,
            0,
        );
        item_event.request_id = Some("x".repeat(MAX_PAYLOAD_LEN as usize + 1));
        let mut out = Vec::new();
        let err = encode_records(&[Record::Event(item_event)], &mut out).unwrap_err();
        assert!(matches!(err, EncodeError::TooLarge(e) if e.field == "record"));
    }
}
