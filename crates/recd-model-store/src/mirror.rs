//! The local copy of a remote store: what a server (or a training's gate) reads.
//!
//! [`pull`] downloads the versions the store's registry names as `CURRENT` and (optionally)
//! `CANDIDATE` into a models directory, each verified before it is renamed into place, and
//! only then writes the store's state into the directory's registry. The directory is
//! therefore always a consistent registry whose named versions are complete, and the model
//! watcher of `recd-online` hot-swaps from it exactly as from a local training.
//!
//! [`Mirror::start`] repeats the pull on an interval. A store that cannot be read leaves the
//! copy as it is — the server keeps answering with the model it has — and is reported: the
//! status callback (the server's `/readyz` body), the gauge
//! `recd_dependency_up{dependency="model_store"}`, the errors counter, and one WARN line when it goes down and one INFO line when it is back.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use recd_model::artifact::registry::{self, RegistryState};

use crate::StoreError;
use crate::remote::RemoteStore;

/// How many versions the copy keeps (newest first, plus whatever the state names): the
/// copy is a cache, the store keeps the history.
const KEEP_VERSIONS: usize = 3;

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The store's state, now the copy's.
    pub state: RegistryState,
    /// The versions downloaded by this pull.
    pub downloaded: Vec<String>,
}

/// Copies the store's `CURRENT` (and `CANDIDATE` when `with_candidate`) into `models_dir`,
/// then its state. A candidate that fails to download is left out of the copy's state
/// (logged) rather than holding back a new `CURRENT`; a `CURRENT` that fails fails the pull.
pub async fn pull(
    remote: &RemoteStore,
    models_dir: &Path,
    with_candidate: bool,
) -> Result<Pulled, StoreError> {
    tokio::fs::create_dir_all(models_dir)
        .await
        .map_err(|e| StoreError::io(models_dir, e))?;
    let mut state = remote.state().await?;
    let mut downloaded = Vec::new();
    if let Some(current) = &state.current
        && remote.download(models_dir, current).await?
    {
        downloaded.push(current.clone());
    }
    if let Some(candidate) = state.candidate.clone() {
        let got = match with_candidate {
            true => remote.download(models_dir, &candidate).await,
            false => Ok(false),
        };
        match got {
            Ok(true) => downloaded.push(candidate),
            Ok(false) if with_candidate => {}
            Ok(false) => state.candidate = None,
            Err(e) => {
                tracing::warn!(model_version = %candidate, error = %e, "candidate not copied from the model store; the copy has no candidate until it is");
                state.candidate = None;
            }
        }
    }
    let (dir, copy, prune) = (
        models_dir.to_path_buf(),
        state.clone(),
        !downloaded.is_empty(),
    );
    tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
        registry::replace_state(&dir, &copy)?;
        // Only a download adds a version; pruning reads every manifest, not worth each poll.
        if prune && let Err(e) = registry::gc(&dir, KEEP_VERSIONS) {
            tracing::warn!(error = %e, "old versions of the model store's copy not deleted");
        }
        Ok(())
    })
    .await
    .map_err(|e| StoreError::Io {
        path: models_dir.display().to_string(),
        source: std::io::Error::other(e),
    })??;
    Ok(Pulled { state, downloaded })
}

/// Called after each poll with its outcome, for readiness reporting.
pub type OnStatus = Arc<dyn Fn(Result<(), &StoreError>) + Send + Sync>;

/// The server's copy of a remote store, kept up to date by a background task.
pub struct Mirror {
    remote: RemoteStore,
    models_dir: PathBuf,
    poll: Duration,
    on_status: OnStatus,
}

/// Owns the polling task; dropping it stops the task.
pub struct MirrorTask {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MirrorTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mirror {
    /// A copy of `remote` in `models_dir`, pulled every `poll`.
    pub fn new(
        remote: RemoteStore,
        models_dir: PathBuf,
        poll: Duration,
        on_status: OnStatus,
    ) -> Self {
        Self {
            remote,
            models_dir,
            poll,
            on_status,
        }
    }

    /// Pulls once now (so a server that starts answers with the store's model at once),
    /// then keeps pulling in the background. A store that is down at start is reported and
    /// the copy's last state (if any) serves.
    pub async fn start(self) -> MirrorTask {
        let mut up = None;
        self.poll_once(&mut up).await;
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(self.poll);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            loop {
                interval.tick().await;
                self.poll_once(&mut up).await;
            }
        });
        MirrorTask { task }
    }

    /// One pull, reported; `up` is the last outcome, so a transition is logged once.
    async fn poll_once(&self, up: &mut Option<bool>) {
        let result = pull(&self.remote, &self.models_dir, true).await;
        let url = self.remote.url();
        match &result {
            Ok(pulled) => {
                metrics::gauge!("recd_dependency_up", "dependency" => "model_store").set(1.0);
                if *up == Some(false) {
                    tracing::info!(store = url, "model store reachable again");
                }
                if !pulled.downloaded.is_empty() {
                    tracing::debug!(store = url, versions = ?pulled.downloaded, "model store copy updated");
                }
                (self.on_status)(Ok(()));
            }
            Err(e) => {
                metrics::gauge!("recd_dependency_up", "dependency" => "model_store").set(0.0);
                metrics::counter!("recd_model_store_errors_total").increment(1);
                if *up != Some(false) {
                    tracing::warn!(store = url, error = %e, "model store unavailable; serving keeps its current model");
                }
                (self.on_status)(Err(e));
            }
        }
        *up = Some(result.is_ok());
    }
}
