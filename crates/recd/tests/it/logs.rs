//! Log output: JSON lines on request, and no colour codes when stderr is not a terminal.

use std::process::Command;

use crate::util::arg;

/// `recd [--log-format FORMAT] gen ...` at info level; returns stderr.
fn gen_logs(format: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_recd"));
    if let Some(f) = format {
        cmd.args(["--log-format", f]);
    }
    let out = cmd
        .args(["gen", "--users", "20", "--items", "10", "--events", "200"])
        .args(["--out", arg(dir.path())])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn json_logs_are_one_object_per_line_and_text_logs_have_no_colour_codes() {
    let json = gen_logs(Some("json"));
    let lines: Vec<&str> = json.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines at info level");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{line}"
        );
    }
    let text = gen_logs(None);
    assert!(text.contains("INFO"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "ANSI codes in a piped log: {text:?}"
    );
}

#[test]
fn training_logs_counted_progress_with_an_eta() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = arg(&data);
    crate::util::small_data(&data, false);
    let out = Command::new(env!("CARGO_BIN_EXE_recd"))
        .args(["--log-format", "json", "train", "--data-dir", d])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let progress: Vec<serde_json::Value> = String::from_utf8(out.stderr)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "training progress")
        .collect();
    let als: Vec<&serde_json::Value> = progress
        .iter()
        .filter(|v| v["fields"]["units"] == "ALS iterations")
        .collect();
    assert!(als.len() >= 3, "{progress:?}");
    for v in &als {
        let f = &v["fields"];
        assert_eq!(f["total"], 15, "{f}");
        assert!(f["done"].as_u64().unwrap() < 15, "{f}");
        assert!(
            f["eta_secs"].as_str().unwrap().parse::<f64>().is_ok(),
            "{f}"
        );
    }
}
