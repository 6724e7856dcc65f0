//! The on-disk format of a segment: a fixed header, then length-prefixed, CRC-checked frames.
//!
//! ```text
//! header (24 bytes): magic "RECDLOG\0" | format version u32 LE | reserved u32 (0) | base offset u64 LE
//! frame:             payload length u32 LE | crc32 of payload u32 LE | payload (postcard `Record`)
//! ```
//!
//! The header lets us refuse files that are not ours (or are from a future format) instead of
//! misreading them, and repeats the base offset so a renamed file is caught. Frames carry no
//! offset: a record's offset is its segment's base plus its position, which keeps frames small
//! (8 bytes of overhead on ~100-byte events).

use std::io::{self, Read};

use recd_types::{Record, ValidationError};

use super::super::Offset;

/// Size of the segment header in bytes.
pub(super) const HEADER_LEN: u64 = 24;
const MAGIC: [u8; 8] = *b"RECDLOG\0";
/// Bumped on any incompatible change of the header or frame layout.
const FORMAT_VERSION: u32 = 1;
/// Size of a frame's length + crc prefix.
pub(super) const FRAME_PREFIX_LEN: usize = 8;
/// Largest payload we write or accept. A length above it on disk is corruption (a torn or
/// overwritten length field), and refusing it keeps a bad length from making us allocate
/// gigabytes. Real records are a few hundred bytes; catalog items with long descriptions stay
/// far below this.
pub(super) const MAX_PAYLOAD_LEN: u32 = 16 << 20;

/// The header bytes of a segment whose first record has offset `base`.
pub(super) fn segment_header(base: Offset) -> [u8; HEADER_LEN as usize] {
    let mut header = [0u8; HEADER_LEN as usize];
    header[..8].copy_from_slice(&MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&base.to_le_bytes());
    header
}

/// Checks a segment header read from disk; the error says what is wrong, in words.
pub(super) fn check_header(header: &[u8], base: Offset) -> Result<(), String> {
    if header.len() < HEADER_LEN as usize {
        return Err(format!(
            "header is {} bytes, expected {HEADER_LEN}",
            header.len()
        ));
    }
    if header[..8] != MAGIC {
        return Err("bad magic: not a recd log segment".into());
    }
    let version = u32::from_le_bytes(header[8..12].try_into().unwrap_or_default());
    if version != FORMAT_VERSION {
        return Err(format!(
            "format version {version}, this build reads version {FORMAT_VERSION}"
        ));
    }
    let stored_base = u64::from_le_bytes(header[16..24].try_into().unwrap_or_default());
    if stored_base != base {
        return Err(format!(
            "header says base offset {stored_base} but the file name says {base}"
        ));
    }
    Ok(())
}

/// Appends the frames of `records` to `out` (postcard-encoding on the caller's thread, so the
/// single writer thread only copies bytes). Returns how many frames were added.
pub(super) fn encode_records(records: &[Record], out: &mut Vec<u8>) -> Result<u64, EncodeError> {
    let mut buf = std::mem::take(out);
    for (index, record) in records.iter().enumerate() {
        let start = buf.len();
        buf.extend_from_slice(&[0u8; FRAME_PREFIX_LEN]);
        buf = postcard::to_extend(record, buf).map_err(|e| EncodeError::Postcard {
            index,
            reason: e.to_string(),
        })?;
        let payload_len = buf.len() - start - FRAME_PREFIX_LEN;
        if payload_len > MAX_PAYLOAD_LEN as usize {
            return Err(EncodeError::TooLarge(ValidationError::new(
                "record",
                format!(
                    "entry {index} encodes to {payload_len} bytes, over the log's limit of {MAX_PAYLOAD_LEN}"
                ),
            )));
        }
        let crc = crc32fast::hash(&buf[start + FRAME_PREFIX_LEN..]);
        buf[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
        buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }
    *out = buf;
    Ok(records.len() as u64)
}

/// Why records could not be turned into frames.
#[derive(Debug)]
pub(super) enum EncodeError {
    /// The record is larger than a frame may be: the caller's fault.
    TooLarge(ValidationError),
    /// postcard refused the value (cannot happen for `Record`'s types; kept as an error anyway).
    Postcard { index: usize, reason: String },
}

/// What reading the next frame found.
#[derive(Debug, PartialEq)]
pub(super) enum FrameRead {
    /// A whole frame with a matching CRC; the payload is in the buffer. The value is the
    /// frame's total size on disk.
    Frame(u64),
    /// Clean end: no bytes left, exactly at a frame boundary.
    End,
    /// The data ends inside a frame: `have` bytes of it exist.
    Torn { have: u64 },
    /// The frame is complete but damaged, described in words.
    Bad(String),
}

/// Reads one frame from `reader` into `payload`.
///
/// A length of 0 is rejected: postcard never encodes a `Record` to nothing, and a zeroed
/// region (what some filesystems leave after a crash when the size was updated but the data
/// was not) would otherwise parse as an endless run of valid empty frames (crc32 of "" is 0).
pub(super) fn read_frame(reader: &mut impl Read, payload: &mut Vec<u8>) -> io::Result<FrameRead> {
    let mut prefix = [0u8; FRAME_PREFIX_LEN];
    let got = read_full(reader, &mut prefix)?;
    if got == 0 {
        return Ok(FrameRead::End);
    }
    if got < FRAME_PREFIX_LEN {
        return Ok(FrameRead::Torn { have: got as u64 });
    }
    let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let crc = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
    if len == 0 || len > MAX_PAYLOAD_LEN {
        return Ok(FrameRead::Bad(format!("implausible frame length {len}")));
    }
    payload.resize(len as usize, 0);
    let got = read_full(reader, payload)?;
    if got < len as usize {
        return Ok(FrameRead::Torn {
            have: (FRAME_PREFIX_LEN + got) as u64,
        });
    }
    let actual = crc32fast::hash(payload);
    if actual != crc {
        return Ok(FrameRead::Bad(format!(
            "crc mismatch (stored {crc:#010x}, computed {actual:#010x})"
        )));
    }
    Ok(FrameRead::Frame((FRAME_PREFIX_LEN as u64) + u64::from(len)))
}

/// Decodes a frame's payload; trailing bytes mean the frame is not what we wrote.
pub(super) fn decode_record(payload: &[u8]) -> Result<Record, String> {
    match postcard::take_from_bytes::<Record>(payload) {
        Ok((record, [])) => Ok(record),
        Ok((_, rest)) => Err(format!("{} unexpected bytes after the record", rest.len())),
        Err(e) => Err(format!("cannot decode the record: {e}")),
    }
}

/// Like `read_exact`, but reports how much was read when the data ends early instead of
/// failing, because a short read is how a torn tail shows itself.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
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

    fn frames(records: &[Record]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_records(records, &mut out).unwrap();
        out
    }

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let bytes = frames(&[record(1), record(2)]);
        let mut reader = &bytes[..];
        let mut payload = Vec::new();
        for n in 1..=2 {
            assert!(matches!(
                read_frame(&mut reader, &mut payload).unwrap(),
                FrameRead::Frame(_)
            ));
            assert_eq!(decode_record(&payload).unwrap(), record(n));
        }
        assert_eq!(
            read_frame(&mut reader, &mut payload).unwrap(),
            FrameRead::End
        );
    }

    #[test]
    fn every_truncation_of_a_frame_is_torn() {
        let bytes = frames(&[record(1)]);
        let mut payload = Vec::new();
        for cut in 1..bytes.len() {
            let mut reader = &bytes[..cut];
            assert_eq!(
                read_frame(&mut reader, &mut payload).unwrap(),
                FrameRead::Torn { have: cut as u64 },
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn flipped_bits_and_zeroes_are_bad_frames() {
        let bytes = frames(&[record(1)]);
        let mut payload = Vec::new();
        for pos in FRAME_PREFIX_LEN..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[pos] ^= 0x40;
            let got = read_frame(&mut &damaged[..], &mut payload).unwrap();
            assert!(matches!(got, FrameRead::Bad(_)), "flip at {pos}: {got:?}");
        }
        let zeroes = [0u8; 64];
        assert!(matches!(
            read_frame(&mut &zeroes[..], &mut payload).unwrap(),
            FrameRead::Bad(_)
        ));
        let mut huge = bytes.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            read_frame(&mut &huge[..], &mut payload).unwrap(),
            FrameRead::Bad(_)
        ));
    }

    #[test]
    fn headers_are_checked() {
        let header = segment_header(7);
        check_header(&header, 7).unwrap();
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
        assert!(check_header(&future, 7).unwrap_err().contains("version"));
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
