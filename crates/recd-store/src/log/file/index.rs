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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

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
    /// The entries cover the segment's bytes up to here: every frame before it is at most
    /// one interval after an entry.
    covered: AtomicU64,
    /// Held while an index is extended by a walk, so two readers do not both add entries.
    extending: Mutex<()>,
}

impl SparseIndex {
    /// An index holding only the segment's first frame and covering `covered` bytes (the
    /// header's length for a segment nobody has walked yet).
    pub fn new(base: Offset, covered: u64) -> Self {
        Self {
            base,
            entries: RwLock::new(vec![(base, HEADER_LEN)]),
            covered: AtomicU64::new(covered),
            extending: Mutex::new(()),
        }
    }

    /// How many bytes of the segment the entries cover.
    pub fn covered(&self) -> u64 {
        self.covered.load(Ordering::Acquire)
    }

    /// Adds entries for frames after the last one, found by whoever walked the bytes up to
    /// `covered` (the writer after a sync, or a reader's walk).
    pub fn extend(&self, new: &[(Offset, u64)], covered: u64) {
        if !new.is_empty() {
            let mut entries = self.write();
            let last = entries.last().copied();
            entries.extend(new.iter().filter(|e| Some(**e) > last));
        }
        self.covered.fetch_max(covered, Ordering::AcqRel);
    }

    /// Makes the index cover `limit` bytes: if it does not yet, `walk` is called (by one
    /// caller at a time) with the last entry and the bytes to cover, and returns the entries
    /// it found after that entry.
    pub fn ensure<E>(
        &self,
        limit: u64,
        walk: impl FnOnce((Offset, u64)) -> Result<Vec<(Offset, u64)>, E>,
    ) -> Result<(), E> {
        if self.covered() >= limit {
            return Ok(());
        }
        let _one_walker = self.extending.lock().unwrap_or_else(|e| e.into_inner());
        if self.covered() >= limit {
            return Ok(());
        }
        let found = walk(self.last())?;
        self.extend(&found, limit);
        Ok(())
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
        let index = SparseIndex::new(100, HEADER_LEN);
        assert_eq!(index.seek_point(150), (100, HEADER_LEN));
        let mut builder = IndexBuilder::after(index.last());
        for k in 0..2000u64 {
            builder.frame(100 + k, HEADER_LEN + k * 100);
        }
        let end = HEADER_LEN + 2000 * 100;
        index.ensure(end, |_| Ok::<_, ()>(builder.take())).unwrap();
        assert_eq!(index.covered(), end);
        for offset in [100, 101, 755, 756, 1500, 2099, 5000] {
            let (o, pos) = index.seek_point(offset);
            assert!(o <= offset, "{o} > {offset}");
            assert_eq!(pos, HEADER_LEN + (o - 100) * 100);
            // Never more than one interval behind.
            let target = HEADER_LEN + (offset.min(2099) - 100) * 100;
            assert!(target - pos < INDEX_INTERVAL_BYTES + 100, "{offset}: {pos}");
        }
        // Covered: no second walk.
        index
            .ensure(end, |_| -> Result<Vec<(Offset, u64)>, ()> {
                panic!("walked twice")
            })
            .unwrap();
    }

    #[test]
    fn extending_never_duplicates_or_reorders_entries() {
        let index = SparseIndex::new(5, HEADER_LEN);
        index.extend(&[(5, HEADER_LEN), (9, 70_000)], 70_100);
        index.extend(&[(9, 70_000), (20, 140_000)], 140_100);
        assert_eq!(index.len(), 3);
        assert_eq!(index.seek_point(19), (9, 70_000));
        assert_eq!(index.covered(), 140_100);
    }
}
