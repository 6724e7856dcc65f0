//! Backing the model's large arrays with 2 MB pages.
//!
//! A request reads a few hundred rows scattered over tens of MB (candidate vectors, content
//! vectors, item records, kNN rows): with 4 KB pages almost every one of those reads also
//! misses the TLB, and in a virtual machine a TLB miss is a two-level page walk. A profile of
//! `recd serve` on the 1M × 100k model (AMD EPYC VM, THP in `madvise` mode, so the server had
//! no huge page at all) put most of the feature stage's samples on the prefetches of those rows.
//! `MADV_HUGEPAGE` marks the arrays for huge pages and `MADV_COLLAPSE` (Linux ≥ 6.1) moves the
//! already-loaded pages into them now rather than whenever `khugepaged` gets there (it scans
//! 16 MB per 10 s by default). Both are hints: on another OS, an older kernel, or with THP set
//! to `never`, nothing changes but the speed.

/// Asks the kernel to back the 2 MB-aligned part of `data` with huge pages (best effort);
/// true when it accepted both advices.
pub(crate) fn advise<T>(data: &[T]) -> bool {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = data.as_ptr() as usize;
        let (lo, hi) = (
            start.next_multiple_of(HUGE),
            (start + std::mem::size_of_val(data)) / HUGE * HUGE,
        );
        if hi <= lo {
            return false;
        }
        for advice in [libc::MADV_HUGEPAGE, libc::MADV_COLLAPSE] {
            // SAFETY: `lo..hi` lies inside `data`'s allocation, which outlives the call, and
            // both advices keep the contents (they change only how the pages are backed), so
            // no reference into `data` sees a difference. Errors (EINVAL on old kernels,
            // ENOMEM/EAGAIN when no huge page is free) leave the memory as it was.
            let rc = unsafe { libc::madvise(lo as *mut libc::c_void, hi - lo, advice) };
            if rc != 0 {
                tracing::debug!(
                    advice,
                    error = %std::io::Error::last_os_error(),
                    "huge pages not applied"
                );
                return false;
            }
        }
        true
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = data;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `AnonHugePages` of the mapping that holds `addr`, in kB, from `/proc/self/smaps`.
    #[cfg(target_os = "linux")]
    fn huge_kb_at(addr: usize) -> Option<u64> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((a, b)) = first.split_once('-')
                && let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                inside = (a..b).contains(&addr);
            } else if inside && let Some(kb) = line.strip_prefix("AnonHugePages:") {
                return kb.trim().trim_end_matches("kB").trim().parse().ok();
            }
        }
        None
    }

    #[test]
    fn advised_memory_keeps_its_contents_and_gets_huge_pages_when_accepted() {
        let data: Vec<u32> = (0..4u32 << 20)
            .map(|i| i.wrapping_mul(2_654_435_761))
            .collect();
        let applied = advise(&data);
        assert!(
            data.iter()
                .enumerate()
                .all(|(i, &v)| v == (i as u32).wrapping_mul(2_654_435_761))
        );
        // A tiny slice has no aligned 2 MB inside: nothing to advise.
        assert!(!advise(&data[..1000]));
        #[cfg(target_os = "linux")]
        if applied {
            let huge = huge_kb_at(data.as_ptr() as usize + (8 << 20)).unwrap_or(0);
            assert!(
                huge >= 2048,
                "accepted, but the mapping has {huge} kB of huge pages"
            );
        }
    }
}
