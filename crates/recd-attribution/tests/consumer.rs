//! The consumer over real logs: an experiment where one variant's lists are clicked three
//! times as often, events written before the impressions they cite, the tally rebuilt by a
//! second consumer as after a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use recd_attribution::{AttributionConfig, Design, Sources};
use recd_store::{EventLog, FileLog, LogConfig};
use recd_types::{Event, EventKind, Impression, ItemId, Record, Shown, Surface, UserId};

const T0: i64 = 1_700_000_000_000;

/// A deterministic coin: the same (a, b) always gives the same draw in [0, 1).
fn draw(a: u64, b: u64) -> f64 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_add(0xD1B5_4A32_D192_ED03);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn impression(user: u64, step: u64, variant: &str) -> Impression {
    Impression {
        request_id: format!("r{user}-{step}"),
        at_ms: T0 + (step * 1000) as i64,
        surface: Surface::Recommendations,
        user_id: Some(UserId::parse(format!("u{user}")).unwrap()),
        item_id: None,
        experiments: vec![format!("exp/{variant}")],
        model_version: Some("v1".into()),
        context: Some("homepage".into()),
        device: None,
        category: None,
        items: (0..10)
            .map(|p| Shown {
                item_id: ItemId::parse(format!("i{}", (user + step + p) % 50)).unwrap(),
                position: p as u32,
                source: "als".into(),
                score: 1.0,
            })
            .collect(),
        cold: false,
        fallback: false,
        degraded: false,
        cached: false,
        latency_us: 2000,
    }
}

fn run(events: Vec<Arc<dyn EventLog>>, impressions: Arc<dyn EventLog>) -> recd_attribution::Report {
    let stop = Arc::new(AtomicBool::new(false));
    let (attribution, handle) = recd_attribution::start(
        Sources {
            events,
            impressions,
            category: Box::new(|item: &str| Some(format!("c{}", item.len() % 3))),
        },
        AttributionConfig {
            window_ms: 3_600_000,
            max_kept: 1_000_000,
            horizon_ms: i64::MAX / 4,
            poll: Duration::from_millis(20),
        },
        T0 + 3_600_000,
        stop.clone(),
    )
    .unwrap();
    while !attribution.caught_up() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let design = Design {
        name: "exp".into(),
        variants: vec![("control".into(), 50.0), ("better".into(), 50.0)],
        control: "control".into(),
    };
    let report = recd_attribution::report(&design, &attribution.tally());
    stop.store(true, Ordering::Release);
    handle.join().unwrap();
    report
}

#[test]
fn the_report_finds_the_variant_that_is_clicked_more_and_a_restart_rebuilds_it() {
    let dir = tempfile::tempdir().unwrap();
    let events: Arc<dyn EventLog> =
        Arc::new(FileLog::open(dir.path().join("log"), LogConfig::default()).unwrap());
    let impressions: Arc<dyn EventLog> =
        Arc::new(FileLog::open(dir.path().join("impressions"), LogConfig::default()).unwrap());
    let (mut shown, mut clicks) = (Vec::new(), Vec::new());
    for user in 0..600u64 {
        let variant = if draw(user, 0) < 0.5 {
            "control"
        } else {
            "better"
        };
        let p = if variant == "control" { 0.04 } else { 0.12 };
        for step in 0..4 {
            let i = impression(user, step, variant);
            for s in &i.items {
                if draw(user * 100 + step, u64::from(s.position) + 1) < p {
                    let mut e = Event::new(
                        i.user_id.clone().unwrap(),
                        Some(s.item_id.clone()),
                        EventKind::Click,
                        i.at_ms + 500,
                    );
                    e.request_id = Some(i.request_id.clone());
                    e.dwell_ms = Some(10_000);
                    clicks.push(Record::Event(e));
                }
            }
            shown.push(Record::Impression(i));
        }
    }
    // Events first: the consumer must still join them to impressions it reads later.
    events.append(&clicks).unwrap();
    impressions.append(&shown).unwrap();

    let report = run(vec![events.clone()], impressions.clone());
    let control = &report.variants[0];
    let better = &report.variants[1];
    assert_eq!(control.users + better.users, 600);
    assert_eq!(control.impressions + better.impressions, 600 * 4 * 10);
    assert_eq!(control.clicks + better.clicks, clicks.len() as u64);
    assert!(
        better.ctr.unwrap() > 2.0 * control.ctr.unwrap(),
        "{report:?}"
    );
    assert_eq!(control.mean_dwell_ms, Some(10_000.0));
    let ctr = report
        .comparisons
        .iter()
        .find(|c| c.metric == "ctr")
        .unwrap();
    let c = ctr.result.as_ref().unwrap();
    assert!(c.diff > 0.0 && c.ci_low > 0.0 && c.p_value < 0.001, "{c:?}");
    assert!(report.srm_p_value.unwrap() > 0.001, "{report:?}");

    // A second consumer over the same logs (a restart) rebuilds the same counts, and the same
    // statistics up to the order of float sums over users (a hash map's order).
    let rebuilt = run(vec![events], impressions.clone());
    assert_eq!(rebuilt.variants, report.variants);

    // The same clicks spread over three logs by user, as over a bus's partitions: merged by
    // time, they are attributed the same.
    let partitions: Vec<Arc<dyn EventLog>> = (0..3)
        .map(|p| {
            let log: Arc<dyn EventLog> = Arc::new(
                FileLog::open(dir.path().join(format!("p{p}")), LogConfig::default()).unwrap(),
            );
            let mine: Vec<Record> = clicks
                .iter()
                .filter(|r| match r {
                    Record::Event(e) => e.user_id.as_str().len() % 3 == p,
                    _ => false,
                })
                .cloned()
                .collect();
            log.append(&mine).unwrap();
            log
        })
        .collect();
    let merged = run(partitions, impressions);
    assert_eq!(merged.variants, report.variants);
    assert_eq!(rebuilt.srm_p_value, report.srm_p_value);
    let again = rebuilt.comparisons[0].result.as_ref().unwrap();
    assert!((again.diff - c.diff).abs() < 1e-12 && (again.std_error - c.std_error).abs() < 1e-12);
}
