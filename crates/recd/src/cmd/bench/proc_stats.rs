//! Process-wide resource figures from /proc (Linux): peak memory and CPU time.
//!
//! Read from /proc rather than through libc's getrusage to keep the binary free of a libc
//! dependency for two numbers; both return `None` where /proc is missing or unexpected.

/// Peak resident set size (VmHWM) in MiB.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Linux reports CPU times in clock ticks; USER_HZ is 100 on every mainstream architecture
/// (it is fixed by the kernel ABI, unlike the internal HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds (user + system, all threads) this process has used so far.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces; fields after it are plain numbers.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}
