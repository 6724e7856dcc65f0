//! The feature store on a real 6-node Redis Cluster, under HTTP load, when a master dies:
//! its replica takes over, recommendations keep answering (from the local cache and fallbacks
//! while the slots move: never a 5xx), every event is acknowledged (the embedded log holds
//! them), and the features of users who acted during the failover converge afterwards.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use recd_features::testing::RedisCluster;
use serde_json::json;

use crate::util::{Server, arg, small_data};

#[test]
fn a_master_killed_under_load_costs_no_5xx_and_features_converge() {
    let Some(mut cluster) = RedisCluster::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    small_data(&data, true);
    let server = Server::start(&data, &["--feature-store", &cluster.url()]);
    server.wait_until(|| server.get("/readyz").0 == 200, "ready on the cluster");

    let stop = AtomicBool::new(false);
    let (reads, posted) = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut statuses = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Users drawn over the whole population, not a hot few.
                let user = format!("u{}", (n * 7919) % 300);
                let (status, body) = server.get(&format!(
                    "/v1/recommendations?user_id={user}&num_results=10"
                ));
                statuses.push((status, body.to_string()));
                n += 1;
            }
            statuses
        });
        let writer = s.spawn(|| {
            let mut posted = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let user = format!("failover-{n}");
                let item = format!("i{}", n % 200);
                let event = json!({"user_id": user, "item_id": item, "type": "view"});
                let (status, body) = server.request("POST", "/v1/events", &event.to_string());
                assert_eq!(status, 202, "an event was not acknowledged: {body}");
                posted.push((user, item));
                n += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            posted
        });
        std::thread::sleep(Duration::from_secs(1));
        let killed = cluster.kill_master(None);
        eprintln!("killed the master on port {killed}");
        // The node timeout is two seconds; load goes on well past the failover.
        std::thread::sleep(Duration::from_secs(6));
        stop.store(true, Ordering::Relaxed);
        (reader.join().unwrap(), writer.join().unwrap())
    });
    let failed: Vec<&(u16, String)> = reads.iter().filter(|(s, _)| *s >= 500).collect();
    assert!(
        failed.is_empty(),
        "{} of {} recommendations failed during the failover, e.g. {:?}",
        failed.len(),
        reads.len(),
        failed.first()
    );
    let degraded = reads
        .iter()
        .filter(|(_, b)| b.contains("\"fallback\":true") || b.contains("\"degraded\":true"))
        .count();
    eprintln!(
        "failover under load: {} recommendations (none 5xx, {degraded} degraded or fallback), {} events acknowledged",
        reads.len(),
        posted.len()
    );

    // Every event acknowledged during the failover reaches the features once the cluster
    // has a master for every slot again.
    let started = Instant::now();
    for (user, item) in &posted {
        server.wait_until(
            || {
                let (status, features) = server.get(&format!("/v1/users/{user}/features"));
                status == 200
                    && features["recent_views"]
                        .as_array()
                        .is_some_and(|v| v.iter().any(|x| x["item_id"] == item.as_str()))
            },
            "the features of a user who acted during the failover",
        );
    }
    eprintln!(
        "{} users' features converged {:?} after the load stopped",
        posted.len(),
        started.elapsed()
    );
    let _ = arg(&data);
}
