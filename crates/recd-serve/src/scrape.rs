//! Metrics computed when `/metrics` is scraped and appended to the recorder's text: build
//! info, the served model (version, training time, age) and the process (memory, CPU, file
//! descriptors). They are rendered here rather than kept as recorder gauges so that a
//! swapped-out model's version label does not linger as a stale series, and so that ages are
//! exact at scrape time.

use std::fmt::Write;

use crate::AppState;

/// The scrape-time families in the Prometheus text format, each with HELP and TYPE.
pub(crate) fn render(state: &AppState, now_ms: i64) -> String {
    let mut out = String::new();
    let version = [("version", env!("CARGO_PKG_VERSION"))];
    family(
        &mut out,
        "recd_build_info",
        "gauge",
        "The recd build, as labels; always 1.",
    );
    sample(&mut out, "recd_build_info", &version, 1.0);
    if let Some(served) = state.online.models.get() {
        let m = &served.manifest;
        family(
            &mut out,
            "recd_model_info",
            "gauge",
            "The served model's version, as a label; always 1.",
        );
        sample(
            &mut out,
            "recd_model_info",
            &[("version", served.version())],
            1.0,
        );
        family(
            &mut out,
            "recd_model_created_timestamp_seconds",
            "gauge",
            "When the served model finished training, in Unix seconds.",
        );
        sample(
            &mut out,
            "recd_model_created_timestamp_seconds",
            &[],
            m.created_ms as f64 / 1e3,
        );
        family(
            &mut out,
            "recd_model_age_seconds",
            "gauge",
            "Seconds since the served model finished training (model freshness).",
        );
        sample(
            &mut out,
            "recd_model_age_seconds",
            &[],
            (now_ms - m.created_ms) as f64 / 1e3,
        );
        family(
            &mut out,
            "recd_model_data_end_timestamp_seconds",
            "gauge",
            "Time of the newest event the served model was trained on, in Unix seconds.",
        );
        sample(
            &mut out,
            "recd_model_data_end_timestamp_seconds",
            &[],
            m.data_window_ms.1 as f64 / 1e3,
        );
    }
    let damage = state.store.log().damage();
    family(
        &mut out,
        "recd_log_lost_records",
        "gauge",
        "Acknowledged log records lost to damaged bytes that reads have found (0 when healthy; cleared by `recd log repair` and a restart).",
    );
    sample(
        &mut out,
        "recd_log_lost_records",
        &[],
        damage.iter().map(|d| d.n_lost).sum::<u64>() as f64,
    );
    family(
        &mut out,
        "recd_log_damaged_ranges",
        "gauge",
        "Damaged byte ranges found in the log's segments.",
    );
    sample(
        &mut out,
        "recd_log_damaged_ranges",
        &[],
        damage.len() as f64,
    );
    logs(&mut out, state);
    #[cfg(target_os = "linux")]
    process::render(&mut out);
    out
}

/// Size and first offset of each log this process writes: what retention keeps in check.
fn logs(out: &mut String, state: &AppState) {
    use recd_store::retention::LogName;
    let logs: Vec<_> = [LogName::Events, LogName::Impressions]
        .into_iter()
        .filter_map(|name| state.logs.get(name).map(|log| (name.as_str(), log)))
        .collect();
    family(
        out,
        "recd_log_size_bytes",
        "gauge",
        "Bytes of a data dir log's segment files, by log (events, impressions); [store.retention] deletes old segments.",
    );
    for (name, log) in &logs {
        sample(
            out,
            "recd_log_size_bytes",
            &[("log", name)],
            log.size_bytes() as f64,
        );
    }
    family(
        out,
        "recd_log_start_offset",
        "gauge",
        "The first offset a log still holds, by log: records before it were compacted away.",
    );
    for (name, log) in &logs {
        sample(
            out,
            "recd_log_start_offset",
            &[("log", name)],
            log.start_offset() as f64,
        );
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    let labels: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    let labels = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", labels.join(","))
    };
    let _ = writeln!(out, "{name}{labels} {value}");
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The standard `process_*` families, read from `/proc/self`. Hand-written: five numbers do
/// not need the `procfs` crate's dependency tree in a from-scratch build.
#[cfg(target_os = "linux")]
mod process {
    use super::{family, sample};

    pub(super) fn render(out: &mut String) {
        // SAFETY: sysconf only reads a configuration value; it has no preconditions.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        if let Some(stat) = stat_fields() {
            let field = |i: usize| stat.get(i).and_then(|f| f.parse::<f64>().ok());
            // Fields after the command name: state is 0, utime 11, stime 12, starttime 19.
            if let (Some(u), Some(s)) = (field(11), field(12))
                && ticks > 0
            {
                family(
                    out,
                    "process_cpu_seconds_total",
                    "counter",
                    "User and system CPU time of the process, in seconds.",
                );
                sample(
                    out,
                    "process_cpu_seconds_total",
                    &[],
                    (u + s) / ticks as f64,
                );
            }
            if let (Some(start), Some(boot)) = (field(19), boot_time())
                && ticks > 0
            {
                family(
                    out,
                    "process_start_time_seconds",
                    "gauge",
                    "Start time of the process, in Unix seconds.",
                );
                sample(
                    out,
                    "process_start_time_seconds",
                    &[],
                    boot + start / ticks as f64,
                );
            }
        }
        if let Some(pages) = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        {
            family(
                out,
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory of the process, in bytes.",
            );
            sample(
                out,
                "process_resident_memory_bytes",
                &[],
                pages * page as f64,
            );
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            family(
                out,
                "process_open_fds",
                "gauge",
                "Open file descriptors of the process.",
            );
            sample(out, "process_open_fds", &[], dir.count() as f64);
        }
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we pass and reads nothing else.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            family(
                out,
                "process_max_fds",
                "gauge",
                "The process's limit on open file descriptors.",
            );
            sample(out, "process_max_fds", &[], limit.rlim_cur as f64);
        }
    }

    /// `/proc/self/stat` after the command name (which may contain spaces), split on spaces.
    fn stat_fields() -> Option<Vec<String>> {
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        let rest = &text[text.rfind(')')? + 1..];
        Some(rest.split_whitespace().map(str::to_string).collect())
    }

    /// Boot time in Unix seconds (`btime` of `/proc/stat`).
    fn boot_time() -> Option<f64> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()
    }
}
