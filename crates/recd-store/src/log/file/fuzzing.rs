//! Entry points for the fuzz targets in `fuzz/` at the workspace root (feature `fuzzing`,
//! which nothing else turns on): the frame parser and the walker are private to the log, and
//! the targets call them through these. Each checks what must hold for any input and panics
//! when it does not, which is how a fuzzer learns of it.

use std::path::PathBuf;

use super::frame::{self, Format, Parsed};
use super::walk::{Step, Walker};

/// Parses `bytes` as a run of frames of format `frames` (1 or 2), decoding each intact
/// frame's payload as record `schema`, skipping a byte after anything damaged.
pub fn frames(frames: u32, schema: u32, bytes: &[u8]) {
    let format = Format { frames, schema };
    let mut pos = 0;
    while pos < bytes.len() {
        match frame::parse(format, &bytes[pos..]) {
            Parsed::Frame { size, payload, .. } => {
                assert!(size > 0 && payload.end == size && pos + size <= bytes.len());
                let _ = frame::decode_record(schema, &bytes[pos..][payload]);
                pos += size;
            }
            Parsed::Short { need } => {
                assert!(need > bytes.len() - pos);
                break;
            }
            Parsed::Bad(_) => pos += 1,
        }
    }
}

/// Walks `bytes` as a whole segment file (header included) whose name says base offset
/// `base`, as every reader of the log does: the walk must end, within a step per byte, and
/// yield offsets in increasing order. The bytes go to a file of this process in the
/// temporary directory, rewritten on every call.
pub fn segment(bytes: &[u8], base: u64, end_hint: Option<u64>) {
    let path = scratch_path();
    std::fs::write(&path, bytes).expect("write the scratch segment");
    let Ok(mut walker) = Walker::open(&path, base, None, end_hint) else {
        return;
    };
    let schema = walker.format().schema;
    let mut last = None;
    for _ in 0..=bytes.len() {
        match walker.step().expect("read the scratch segment") {
            Step::Frame { offset, .. } => {
                assert!(
                    last.is_none_or(|l| l < offset),
                    "offset {offset} after {last:?}"
                );
                last = Some(offset);
                let _ = frame::decode_record(schema, walker.payload());
            }
            Step::Damage(d) => assert!(d.start < d.end && d.end <= bytes.len() as u64),
            Step::End => return,
        }
    }
    panic!("the walk did not end within {} steps", bytes.len() + 1);
}

/// A valid segment header for `base`, in frame format `frames` (1 or 2).
pub fn header(frames: u32, base: u64) -> Vec<u8> {
    let mut bytes = frame::segment_header(base).to_vec();
    if frames == 1 {
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        bytes[12..16].copy_from_slice(&0u32.to_le_bytes());
    }
    bytes
}

/// Valid frames of `records`, the first at offset `first`.
pub fn encode(records: &[recd_types::Record], first: u64) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode_records(records, &mut out).expect("encode records");
    frame::stamp_frames(&mut out, first);
    out
}

fn scratch_path() -> PathBuf {
    std::env::temp_dir().join(format!("recd-fuzz-segment-{}.log", std::process::id()))
}
