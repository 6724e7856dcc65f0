//! `export_impressions`: one Parquet row per item shown, in day partitions, every field of
//! the answer on its rows, and a deleted user's impressions from before the deletion left out.

use std::collections::HashMap;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use recd_store::{EventLog, FileLog, LogConfig};
use recd_types::{Impression, ItemId, Record, Shown, Surface, UserId};

const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
const DAY_MS: i64 = 86_400_000;

fn impression(n: u32, user: &str, at_ms: i64) -> Impression {
    Impression {
        request_id: format!("r{n}"),
        at_ms,
        surface: Surface::Recommendations,
        user_id: Some(UserId::parse(user).unwrap()),
        item_id: None,
        experiments: vec!["exp/control".into(), "layer2/b".into()],
        model_version: Some("v1".into()),
        context: Some("homepage".into()),
        device: n.is_multiple_of(2).then(|| "mobile".into()),
        category: None,
        items: (0..3)
            .map(|p| Shown {
                item_id: ItemId::parse(format!("i{}", n + p)).unwrap(),
                position: p + 10,
                source: "als".into(),
                score: 0.5 - p as f32 * 0.1,
            })
            .collect(),
        cold: n.is_multiple_of(3),
        fallback: false,
        degraded: false,
        cached: n.is_multiple_of(5),
        latency_us: 1500 + n,
    }
}

/// A row's position, score, cold flag, experiment labels and device.
type Row = (i64, f32, bool, Vec<String>, Option<String>);

#[test]
fn every_item_shown_is_a_row_with_its_answers_fields() {
    let dir = tempfile::tempdir().unwrap();
    let events = FileLog::open(dir.path().join("log"), LogConfig::default()).unwrap();
    let impressions = FileLog::open(dir.path().join("impressions"), LogConfig::default()).unwrap();
    // Six answers over two days; u9's first two come before their deletion, the third after.
    let mut shown: Vec<Record> = (0..3)
        .map(|n| Record::Impression(impression(n, "u1", T0 + i64::from(n) * DAY_MS / 2)))
        .collect();
    for (n, at) in [(3, T0 + 10), (4, T0 + 20), (5, T0 + DAY_MS + 30)] {
        shown.push(Record::Impression(impression(n, "u9", at)));
    }
    impressions.append(&shown).unwrap();
    events
        .append(&[Record::UserDeleted {
            at_ms: T0 + 25,
            user: UserId::parse("u9").unwrap(),
        }])
        .unwrap();

    let out = dir.path().join("lake");
    let report =
        recd_io::export_impressions(&impressions, &events, &out, &Default::default()).unwrap();
    assert_eq!(
        report.n_events,
        4 * 3,
        "u1's three answers and u9's last, 3 items each"
    );
    assert_eq!(report.n_days, 2);
    assert!(out.join("_recd_export.json").is_file());

    let mut rows: HashMap<(String, String), Row> = HashMap::new();
    for day in ["date=2024-01-01", "date=2024-01-02"] {
        for file in std::fs::read_dir(out.join(day)).unwrap() {
            let file = std::fs::File::open(file.unwrap().path()).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .unwrap()
                .build()
                .unwrap();
            for batch in reader {
                let b = batch.unwrap();
                assert_eq!(b.schema(), recd_io::impression_schema());
                let s = |name: &str| b.column_by_name(name).unwrap().as_string::<i32>().clone();
                let (request, item, device) = (s("request_id"), s("item_id"), s("device"));
                let position = b
                    .column_by_name("position")
                    .unwrap()
                    .as_primitive::<Int64Type>();
                let score = b
                    .column_by_name("score")
                    .unwrap()
                    .as_primitive::<Float32Type>();
                let cold = b.column_by_name("cold").unwrap().as_boolean();
                let experiments = b.column_by_name("experiments").unwrap().as_list::<i32>();
                for r in 0..b.num_rows() {
                    let labels = experiments.value(r);
                    let labels = labels.as_string::<i32>();
                    rows.insert(
                        (request.value(r).to_string(), item.value(r).to_string()),
                        (
                            position.value(r),
                            score.value(r),
                            cold.value(r),
                            (0..labels.len())
                                .map(|k| labels.value(k).to_string())
                                .collect(),
                            (!device.is_null(r)).then(|| device.value(r).to_string()),
                        ),
                    );
                }
            }
        }
    }
    assert_eq!(rows.len(), 12);
    let r0 = &rows[&("r0".to_string(), "i1".to_string())];
    assert_eq!(r0.0, 11);
    assert!((r0.1 - 0.4).abs() < 1e-6);
    assert!(r0.2, "r0 was a cold answer");
    assert_eq!(r0.3, ["exp/control", "layer2/b"]);
    assert_eq!(r0.4.as_deref(), Some("mobile"));
    assert_eq!(rows[&("r1".to_string(), "i1".to_string())].4, None);
    // u9's answers before the deletion are gone; the one after it stays.
    assert!(!rows.keys().any(|(r, _)| r == "r3" || r == "r4"));
    assert!(rows.contains_key(&("r5".to_string(), "i5".to_string())));
}
