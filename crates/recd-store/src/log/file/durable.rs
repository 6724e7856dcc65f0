//! The durable end, published by the writer for readers in other processes.
//!
//! After each group commit (after the sync, before the acknowledgements) the writer
//! overwrites `DURABLE` in the log dir with where the durable records end: the end offset,
//! the last segment's base and its durable length in bytes. A read-only handle reads it to
//! know how far it may read: never into a frame being written, never past what is synced.
//!
//! The file is 32 bytes written with one positioned write and not synced: it is a hint that
//! costs one syscall per group commit. It can only lag behind the truth (it is written after
//! the data is synced), and after a power loss it can be stale or torn, which its CRC
//! catches; readers then fall back to walking the last segment. The writer also reads it on
//! open, to tell a torn tail (bytes past the durable end: never acknowledged, truncated) from
//! damage to acknowledged bytes (kept, reported, quarantined).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::super::Offset;

/// The file name in the log dir.
pub(super) const DURABLE_FILE: &str = "DURABLE";
const MAGIC: [u8; 4] = *b"RDE1";
const LEN: usize = 32;

/// Where the durable records end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Durable {
    /// One past the last durable offset.
    pub end: Offset,
    /// Base offset of the last segment.
    pub last_base: Offset,
    /// Durable length of the last segment in bytes.
    pub last_len: u64,
}

impl Durable {
    fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[..4].copy_from_slice(&MAGIC);
        out[4..12].copy_from_slice(&self.end.to_le_bytes());
        out[12..20].copy_from_slice(&self.last_base.to_le_bytes());
        out[20..28].copy_from_slice(&self.last_len.to_le_bytes());
        let crc = crc32fast::hash(&out[..28]);
        out[28..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8; LEN]) -> Option<Self> {
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&bytes[28..]);
        (bytes[..4] == MAGIC && crc32fast::hash(&bytes[..28]) == u32::from_le_bytes(crc)).then(
            || Self {
                end: u64_at(4),
                last_base: u64_at(12),
                last_len: u64_at(20),
            },
        )
    }
}

/// Reads the published durable end of the log in `dir`; `None` when there is none or it is
/// unreadable (an old data dir, or a file torn by a power loss).
pub(super) fn read(dir: &Path) -> Option<Durable> {
    let file = File::open(dir.join(DURABLE_FILE)).ok()?;
    // A read racing the writer's 32-byte write can see a mix of both; the CRC says so, and
    // the next try sees the whole write.
    for _ in 0..4 {
        let mut bytes = [0u8; LEN];
        if file.read_exact_at(&mut bytes, 0).is_err() {
            return None;
        }
        if let Some(durable) = Durable::decode(&bytes) {
            return Some(durable);
        }
        std::thread::yield_now();
    }
    None
}

/// The writer's handle on the file.
pub(super) struct Publisher {
    file: File,
}

impl Publisher {
    /// Opens (or creates) the file in `dir`.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(DURABLE_FILE))?;
        Ok(Self { file })
    }

    /// Publishes `durable`.
    pub fn publish(&self, durable: &Durable) -> std::io::Result<()> {
        self.file.write_all_at(&durable.encode(), 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_ends_read_back_and_damage_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()), None);
        let publisher = Publisher::open(dir.path()).unwrap();
        let durable = Durable {
            end: 1234,
            last_base: 1000,
            last_len: 56_789,
        };
        publisher.publish(&durable).unwrap();
        assert_eq!(read(dir.path()), Some(durable));
        let later = Durable {
            end: 1300,
            ..durable
        };
        publisher.publish(&later).unwrap();
        assert_eq!(read(dir.path()), Some(later));
        let path = dir.path().join(DURABLE_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[5] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(dir.path()), None);
        std::fs::write(&path, b"short").unwrap();
        assert_eq!(read(dir.path()), None);
    }
}
