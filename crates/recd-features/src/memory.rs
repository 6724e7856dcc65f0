//! How much memory this machine (or container) gives the process, for budgets whose default is
//! a share of it.

/// Used when the machine's memory cannot be read (not Linux): budgets then default to a share
/// of this.
const UNKNOWN_MEMORY_BYTES: u64 = 4 << 30;

/// The memory available to this process: the machine's `MemTotal`, or the cgroup's limit when
/// it is lower (in a container `MemTotal` is the host's, and going past the limit is an OOM kill).
pub fn available_memory_bytes() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| kib_field(&info, "MemTotal:"))
        .map(|kib| kib << 10);
    let limit = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|path| {
        std::fs::read_to_string(path)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
    });
    match (total, limit) {
        (Some(t), Some(l)) => t.min(l),
        (Some(t), None) => t,
        (None, Some(l)) => l,
        (None, None) => UNKNOWN_MEMORY_BYTES,
    }
}

/// A budget in bytes: `configured_mb` MiB, or when it is 0, `1/divisor` of
/// [`available_memory_bytes`].
pub fn budget_bytes(configured_mb: u64, divisor: u64) -> u64 {
    if configured_mb > 0 {
        configured_mb.saturating_mul(1 << 20)
    } else {
        available_memory_bytes() / divisor.max(1)
    }
}

fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_a_share_of_memory_and_anything_else_is_mebibytes() {
        assert_eq!(budget_bytes(3, 4), 3 << 20);
        let share = budget_bytes(0, 4);
        assert!(share > 0 && share <= available_memory_bytes() / 4);
        assert_eq!(kib_field("MemTotal:  1024 kB\n", "MemTotal:"), Some(1024));
    }
}
