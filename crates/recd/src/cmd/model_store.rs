//! `[models] store` for the subcommands: which directory holds the versions a process reads
//! or writes, and, for a remote store, the copy pulled before reading and the publication
//! after training (`recd-model-store`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use recd_model::artifact::registry::{Change, Op};
use recd_model_store::remote::RemoteStore;
use recd_model_store::{Location, ModelStoreConfig, mirror};

/// The store `[models]` names, opened (a remote one makes no request yet).
pub struct Opened {
    /// Where it is.
    pub location: Location,
    /// The remote store, if it is one.
    pub remote: Option<RemoteStore>,
}

impl Opened {
    /// Reads `[models]` for `data_dir`; errors name the key.
    pub fn open(config: &ModelStoreConfig, data_dir: &Path) -> anyhow::Result<Self> {
        let location = Location::parse(config, data_dir)?;
        let remote = RemoteStore::open(&location, config)?;
        Ok(Self { location, remote })
    }

    /// The directory a reader loads versions from (the store, or the remote store's copy).
    pub fn local_dir(&self, data_dir: &Path) -> PathBuf {
        self.location.local_dir(data_dir)
    }

    /// For a remote store: copies its `CURRENT` (and candidate) into `dir` first, so a
    /// one-off reader (`recd recommend`, a training's gate) sees what servers serve.
    pub async fn pull_into(&self, dir: &Path, with_candidate: bool) -> anyhow::Result<()> {
        if let Some(remote) = &self.remote {
            mirror::pull(remote, dir, with_candidate)
                .await
                .with_context(|| format!("copying the registry's models from {}", remote.url()))?;
        }
        Ok(())
    }
}

/// Publishes a version trained in `dir` to a remote store: its files first, then the
/// registry `op` (if any), compare-and-swap on the store's state.
pub async fn publish(
    remote: &RemoteStore,
    dir: &Path,
    version: &str,
    op: Option<Op>,
) -> anyhow::Result<Option<Change>> {
    remote
        .upload(dir, version)
        .await
        .with_context(|| format!("uploading model {version} to {}", remote.url()))?;
    let Some(op) = op else {
        return Ok(None);
    };
    let change = remote.change(&op).await.with_context(|| {
        format!(
            "model {version} is uploaded to {} but the registry was not changed; run `recd models activate {version}` (or `promote`) to retry",
            remote.url()
        )
    })?;
    Ok(Some(change))
}

/// A runtime for the synchronous subcommands' few requests to a remote store.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime for the model store")
}
