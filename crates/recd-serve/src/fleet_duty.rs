//! A duty that one API process of a fleet performs at a time, such as the experiment watch or
//! the gradual rollout: the holder of a fleet lock on the feature store's Redis drives it
//! (another process takes over at its next check once the holder's lease lapses), and its
//! state is a versioned document on the same Redis that the holder replaces compare-and-set
//! and the others read, so any process shows it.

use std::sync::Mutex;
use std::time::Duration;

/// How long a fleet lock outlives a driving process that died.
pub const LEASE: Duration = Duration::from_secs(15);

/// Takes the duty's fleet lock: `Ok(None)` while another process holds it.
pub type TakeLock = Box<dyn Fn() -> Result<Option<recd_bus::FleetLock>, String> + Send + Sync>;

/// One duty of the fleet: its state document and its lock.
pub struct FleetDuty {
    doc: recd_bus::SharedDoc,
    take: TakeLock,
    held: Mutex<Option<recd_bus::FleetLock>>,
    what: &'static str,
}

impl FleetDuty {
    /// The duty `what` (for the log), its state in `doc`, its lock taken by `take`.
    pub fn new(what: &'static str, doc: recd_bus::SharedDoc, take: TakeLock) -> Self {
        Self {
            doc,
            take,
            held: Mutex::default(),
            what,
        }
    }

    /// One check of the duty: where this process drives it (and is `ready`), `step` moves
    /// the stored state on, given the fleet's other tallies, and a changed state is stored;
    /// elsewhere the stored state is only read. Returns the state to show.
    pub fn check<T>(
        &self,
        ready: bool,
        tallies: Option<&crate::fleet_tally::FleetTallies>,
        step: impl FnOnce(&mut T, &[recd_attribution::Snapshot]) -> Result<(), String>,
    ) -> Result<T, String>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Default + Clone + PartialEq,
    {
        let (version, read): (u64, T) = self.load()?;
        if !ready || !self.lead()? {
            return Ok(read);
        }
        let tallies = tallies
            .ok_or_else(|| format!("the fleet's {} needs the fleet's tallies", self.what))?;
        // A decision on this process's share of the traffic is not the fleet's: without the
        // others' tallies, no step.
        let others = tallies.others(crate::routes::now_ms())?;
        let mut state = read.clone();
        step(&mut state, &others)?;
        if state != read {
            self.store(version, &state)?;
        }
        Ok(state)
    }

    /// Whether this process drives the duty now, taking the lock when it is free.
    fn lead(&self) -> Result<bool, String> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.as_ref().is_some_and(|l| !l.held()) {
            *held = None;
        }
        if held.is_none() {
            *held = (self.take)()?;
            if held.is_some() {
                tracing::info!(
                    duty = self.what,
                    "this API process now drives a duty of the fleet"
                );
            }
        }
        Ok(held.is_some())
    }

    /// The state as stored, with its version (a missing document is `T::default()`).
    fn load<T: serde::de::DeserializeOwned + Default>(&self) -> Result<(u64, T), String> {
        let (version, bytes) = self.doc.load().map_err(|e| e.to_string())?;
        let state = match bytes {
            Some(b) => serde_json::from_slice(&b)
                .map_err(|e| format!("the fleet's {} state: {e}", self.what))?,
            None => T::default(),
        };
        Ok((version, state))
    }

    /// Replaces the state read at `version`; an error when another writer changed it since.
    fn store<T: serde::Serialize>(&self, version: u64, state: &T) -> Result<(), String> {
        let bytes = serde_json::to_vec(state).map_err(|e| e.to_string())?;
        match self
            .doc
            .replace(version, &bytes)
            .map_err(|e| e.to_string())?
        {
            Some(_) => Ok(()),
            None => Err(format!(
                "the fleet's {} state changed under its driver; looking again at the next check",
                self.what
            )),
        }
    }
}
