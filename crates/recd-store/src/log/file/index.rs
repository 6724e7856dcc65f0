//! A sparse in-memory offset index per segment: (offset, byte position) every ~64 KiB.
//!
//! Without it, `read_from(offset)` in the middle of a segment scans the segment from its
//! start. That is fine once, but a consumer that tails the log calls `read_from` again and
//! again near the end of a 128 MiB segment, and would rescan up to 128 MiB each time. With an
//! entry every 64 KiB a read skips at most 64 KiB of frames. The index is not persisted: the
//! writer fills it for the segments it writes, recovery fills it for the last segment while
//! scanning it anyway, and older segments get theirs built on the first read that needs it
//! (one scan, then cached for the life of the handle).
//!
//! Every entry marks the start of a frame whose record has that offset, so a reader can seek
//! there and continue frame by frame.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::super::Offset;
use super::frame::HEADER_LEN;

/// Distance in bytes between index entries.
pub(super) const INDEX_INTERVAL_BYTES: u64 = 64 << 10;

/// The sparse index of one segment.
#[derive(Debug)]
pub(super) struct SparseIndex {
    base: Offset,
    /// (offset, byte position of its frame), increasing in both.
    entries: RwLock<Vec<(Offset, u64)>>,
    /// True once the entries cover the whole segment (or everything written to it so far,
    /// for the active segment, whose writer keeps it current).
    complete: AtomicBool,
}

impl SparseIndex {
    /// An index holding only the segment's first frame; `complete` says whether someone keeps
    /// it current (the writer, for a segment it creates) or it still has to be built.
    pub fn new(base: Offset, complete: bool) -> Self {
        Self {
            base,
            entries: RwLock::new(vec![(base, HEADER_LEN)]),
            complete: AtomicBool::new(complete),
        }
    }

    /// Whether the entries cover the segment.
    pub fn is_complete(&self) -> bool {
        self.complete.load(Ordering::Acquire)
    }

    /// Replaces the entries with a full set built by a scan, and marks the index complete.
    pub fn install(&self, entries: Vec<(Offset, u64)>) {
        if entries.first() == Some(&(self.base, HEADER_LEN)) {
            *self.write() = entries;
            self.complete.store(true, Ordering::Release);
        }
    }

    /// Adds entries for frames after the last one (the writer, after a sync).
    pub fn extend(&self, new: &[(Offset, u64)]) {
        if !new.is_empty() {
            self.write().extend_from_slice(new);
        }
    }

    /// The last entry at or before `offset`: where a reader of `offset` should start.
    pub fn seek_point(&self, offset: Offset) -> (Offset, u64) {
        let entries = self.read();
        let idx = entries.partition_point(|&(o, _)| o <= offset);
        entries
            .get(idx.wrapping_sub(1))
            .copied()
            .unwrap_or((self.base, HEADER_LEN))
    }

    /// The last entry, from which the next entry's distance is measured.
    pub fn last(&self) -> (Offset, u64) {
        self.read()
            .last()
            .copied()
            .unwrap_or((self.base, HEADER_LEN))
    }

    /// Number of entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.read().len()
    }

    // Poisoning only means a holder panicked; the vector is still a valid (if shorter)
    // index, since every entry is pushed whole.
    fn read(&self) -> RwLockReadGuard<'_, Vec<(Offset, u64)>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Vec<(Offset, u64)>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Collects index entries while walking frames in order.
#[derive(Debug)]
pub(super) struct IndexBuilder {
    entries: Vec<(Offset, u64)>,
    last_pos: u64,
}

impl IndexBuilder {
    /// A builder continuing after the entry `last` (the segment's start for a fresh scan).
    pub fn after(last: (Offset, u64)) -> Self {
        Self {
            entries: Vec::new(),
            last_pos: last.1,
        }
    }

    /// A builder for a scan from the start of the segment at `base`.
    pub fn from_start(base: Offset) -> Self {
        let mut builder = Self::after((base, HEADER_LEN));
        builder.entries.push((base, HEADER_LEN));
        builder
    }

    /// Notes that the frame of `offset` starts at `pos`; keeps it if far enough from the last.
    pub fn frame(&mut self, offset: Offset, pos: u64) {
        if pos >= self.last_pos + INDEX_INTERVAL_BYTES {
            self.entries.push((offset, pos));
            self.last_pos = pos;
        }
    }

    /// The entries collected so far, leaving the builder empty but still spaced correctly.
    pub fn take(&mut self) -> Vec<(Offset, u64)> {
        std::mem::take(&mut self.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_points_are_the_last_entry_at_or_before_the_offset() {
        let index = SparseIndex::new(100, false);
        assert_eq!(index.seek_point(150), (100, HEADER_LEN));
        let mut builder = IndexBuilder::from_start(100);
        for k in 0..2000u64 {
            builder.frame(100 + k, HEADER_LEN + k * 100);
        }
        index.install(builder.take());
        assert!(index.is_complete());
        for offset in [100, 101, 755, 756, 1500, 2099, 5000] {
            let (o, pos) = index.seek_point(offset);
            assert!(o <= offset, "{o} > {offset}");
            assert_eq!(pos, HEADER_LEN + (o - 100) * 100);
            // Never more than one interval behind.
            let target = HEADER_LEN + (offset.min(2099) - 100) * 100;
            assert!(target - pos < INDEX_INTERVAL_BYTES + 100, "{offset}: {pos}");
        }
    }

    #[test]
    fn an_index_not_starting_at_the_segment_start_is_not_installed() {
        let index = SparseIndex::new(5, false);
        index.install(vec![(6, 200)]);
        assert!(!index.is_complete());
        assert_eq!(index.seek_point(9), (5, HEADER_LEN));
    }
}
