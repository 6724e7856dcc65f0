//! `recd eval replay`: the speed layer's worth, measured end to end on the test dataset
//! (ml-100k, or its generated stand-in): a model trained before the hold-out, the hold-out's
//! sessions replayed event by event through the engine.

use serde_json::Value;

use crate::util::{arg, dataset, recd_ok};

/// The lift the real-time state must give over the state frozen at the training cut (the
/// issue's goal; measured well above it on both datasets: BENCHMARKS.md).
const LIFT_FLOOR: f64 = 1.15;

#[test]
fn replay_scores_realtime_above_batch_only_and_popular_on_the_same_events() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dataset().import(&data);
    let dump = tmp.path().join("dump");
    let out = recd_ok(&[
        "eval",
        "replay",
        "--data-dir",
        arg(&data),
        "--json",
        "--dump",
        arg(&dump),
    ]);
    let line = out.lines().last().unwrap_or_default();
    let json: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {out}"));
    let mode = |name: &str| -> &Value {
        json["modes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["mode"] == name)
            .unwrap_or_else(|| panic!("no {name} row: {json}"))
    };
    let (realtime, batch, popular) = (mode("realtime"), mode("batch_only"), mode("popular"));
    let events = realtime["events"].as_u64().unwrap();
    assert!(events >= 100, "too few events to mean anything: {json}");
    assert_eq!(
        batch["events"], realtime["events"],
        "the same events: {json}"
    );
    assert_eq!(
        popular["events"], realtime["events"],
        "the same events: {json}"
    );
    let ndcg = |m: &Value| m["ndcg@10"].as_f64().unwrap();
    assert!(
        ndcg(realtime) >= LIFT_FLOOR * ndcg(batch),
        "realtime {} < {LIFT_FLOOR} × batch_only {}: {json}",
        ndcg(realtime),
        ndcg(batch)
    );
    assert!(ndcg(realtime) > ndcg(popular), "{json}");
    // The dump names exactly the scored events, for the peers.
    let text = std::fs::read_to_string(dump.join("replay.csv")).unwrap();
    let scored = text.lines().filter(|l| l.ends_with(",1")).count() as u64;
    assert_eq!(scored, events, "scored rows in the dump");
}
