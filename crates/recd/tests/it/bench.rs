//! `recd bench als` end to end on a small synth.py-shaped events.csv.

use std::fmt::Write as _;

use crate::util::{arg, recd_err, recd_ok};

/// The value of `"key": value` in a flat JSON line (numbers only, enough for these checks).
fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let start = json
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + key.len()
        + 4;
    let rest = &json[start..];
    &rest[..rest.find([',', '}']).unwrap()]
}

#[test]
fn bench_als_fits_and_reports_the_matrix_it_built() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    // 40 users × 30 items, each user views 6 items of its block of 10, some twice, and
    // buys one: known nnz and confidence sum.
    let mut csv = String::from("user_id,item_id,event,timestamp\n");
    let (mut nnz, mut confidence) = (0, 0.0);
    for user in 0..40 {
        let block = (user % 3) * 10;
        for j in 0..6 {
            let item = block + (user + j) % 10;
            writeln!(csv, "{user},{item},view,{}", 1_700_000_000 + j).unwrap();
            nnz += 1;
            confidence += 1.0;
            if j % 2 == 0 {
                writeln!(csv, "{user},{item},view,{}", 1_700_000_100 + j).unwrap();
                confidence += 1.0;
            }
        }
        writeln!(csv, "{user},{},purchase,1700000200", block + user % 10).unwrap();
        confidence += 8.0;
    }
    std::fs::write(&events, csv).unwrap();
    let out = recd_ok(&[
        "bench",
        "als",
        "--events",
        arg(&events),
        "--factors",
        "8",
        "--iterations",
        "3",
        "--regularization",
        "0.05",
        "--alpha",
        "1",
        "--threads",
        "2",
    ]);
    let line = out.trim();
    assert_eq!(line.lines().count(), 1, "one JSON line: {out}");
    assert_eq!(field(line, "users"), "40");
    assert_eq!(field(line, "items"), "30");
    assert_eq!(field(line, "events"), "400");
    assert_eq!(field(line, "nnz"), nnz.to_string());
    assert_eq!(
        field(line, "confidence_sum").parse::<f64>().unwrap(),
        confidence
    );
    // Times are rounded to ms and may be 0 on data this small; they must still be numbers.
    for key in ["load_s", "fit_s", "per_iter_s"] {
        let v: f64 = field(line, key).parse().unwrap();
        assert!(v >= 0.0, "{key} = {v}");
    }
    let peak: f64 = field(line, "peak_rss_mb").parse().unwrap();
    assert!(peak > 1.0, "peak_rss_mb = {peak}");
}

#[test]
fn bench_als_names_the_file_line_and_column_of_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    std::fs::write(
        &events,
        "user_id,item_id,event,timestamp\n0,1,view,1\n0,x2,view,2\n",
    )
    .unwrap();
    let err = recd_err(&["bench", "als", "--events", arg(&events)]);
    assert!(err.contains(arg(&events)), "{err}");
    assert!(err.contains("line 3, column 2 (item_id)"), "{err}");
    let err = recd_err(&["bench", "als", "--events", arg(&events), "--factors", "0"]);
    assert!(err.contains("factors"), "{err}");
}
