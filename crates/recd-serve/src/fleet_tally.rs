//! One experiment report for a fleet (`recd_attribution::fleet`): every API process publishes
//! its tally to the fleet's Redis every [`PUBLISH_EVERY`], and a report adds the other
//! processes' latest tallies to this one's live tally.

use std::sync::Arc;
use std::time::Duration;

use recd_attribution::{Attribution, Snapshot};
use recd_bus::FleetBlobs;

use crate::AppState;

/// How often a process publishes its tally: how far behind the others' part of a report is.
pub const PUBLISH_EVERY: Duration = Duration::from_secs(5);

/// The fleet's published tallies, and this process's name among them.
pub struct FleetTallies {
    blobs: FleetBlobs,
    /// Names this process's tally: its data dir's (whose impressions log the tally is rebuilt
    /// from), so a restart replaces its own entry instead of adding a second one.
    me: String,
    /// Tallies not published for this long (a data dir gone for good) are left out, ms.
    horizon_ms: i64,
    /// The tally's change count at the last publish: an unchanged tally is not sent again
    /// (it can be large), only re-stamped every [`RESTAMP_EVERY`] publishes.
    published: std::sync::Mutex<Option<(u64, u32)>>,
    /// The others' tallies as last read, and when: they change once per [`PUBLISH_EVERY`] at
    /// most, so reports asked for meanwhile (the dashboard's, one per experiment) share a read.
    read: std::sync::Mutex<Option<(std::time::Instant, Arc<Vec<Snapshot>>)>>,
}

/// Publishes of an unchanged tally between two that send it anyway, so that its time stays
/// within the horizon while its data dir lives.
const RESTAMP_EVERY: u32 = 720;

impl FleetTallies {
    /// Over `blobs`, publishing as `me`.
    pub fn new(blobs: FleetBlobs, me: String, horizon_ms: i64) -> Self {
        Self {
            blobs,
            me,
            horizon_ms,
            published: std::sync::Mutex::new(None),
            read: std::sync::Mutex::new(None),
        }
    }

    /// Publishes `attribution`'s tally as it is at `now_ms`, unless it did not change since
    /// the last publish.
    pub fn publish(&self, attribution: &Attribution, now_ms: i64) -> Result<(), String> {
        let mut last = self.published.lock().unwrap_or_else(|e| e.into_inner());
        let (changes, bytes) = {
            let tally = attribution.tally();
            let changes = tally.changes();
            if let Some((at, skipped)) = last.as_mut()
                && *at == changes
                && *skipped < RESTAMP_EVERY
            {
                *skipped += 1;
                return Ok(());
            }
            (changes, Snapshot::of(&tally, now_ms).encode())
        };
        self.blobs
            .put(&self.me, &bytes)
            .map_err(|e| e.to_string())?;
        *last = Some((changes, 0));
        Ok(())
    }

    /// The other processes' latest tallies, as of `now_ms` (read at most once per
    /// [`PUBLISH_EVERY`]).
    pub fn others(&self, now_ms: i64) -> Result<Arc<Vec<Snapshot>>, String> {
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, others)) = read.as_ref()
            && at.elapsed() < PUBLISH_EVERY
        {
            return Ok(others.clone());
        }
        let others = Arc::new(self.fetch(now_ms)?);
        *read = Some((std::time::Instant::now(), others.clone()));
        Ok(others)
    }

    fn fetch(&self, now_ms: i64) -> Result<Vec<Snapshot>, String> {
        let all = self.blobs.all().map_err(|e| e.to_string())?;
        Ok(all
            .into_iter()
            .filter(|(name, _)| *name != self.me)
            .filter_map(|(name, bytes)| {
                let snapshot = Snapshot::decode(&bytes);
                if snapshot.is_none() {
                    tracing::warn!(publisher = %name, "an unreadable experiment tally on the fleet's Redis; left out of reports");
                }
                snapshot
            })
            .filter(|s| now_ms - s.at_ms <= self.horizon_ms)
            .collect())
    }
}

/// Publishes this process's tally every [`PUBLISH_EVERY`] until the runtime stops.
pub fn start(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    crate::periodic::spawn(
        state,
        PUBLISH_EVERY,
        "publishing the experiment tally",
        |s| {
            let (Some(fleet), Some(attribution)) = (&s.fleet_tallies, &s.attribution) else {
                return Ok(());
            };
            if !attribution.caught_up() {
                // A tally still being rebuilt after a start would replace a complete one.
                return Ok(());
            }
            fleet.publish(attribution, crate::routes::now_ms())
        },
    )
}
