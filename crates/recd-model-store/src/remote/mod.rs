//! A model store in S3-compatible object storage.
//!
//! Layout under the prefix: `<version>/<file>` for every file of a version, uploaded before
//! the version's `manifest.json`, so a manifest present means a complete upload (it lists
//! every other file with its size and SHA-256, which a download verifies); and `STATE.json`,
//! the registry (`recd_model::artifact::registry::RegistryState`), replaced whole by one
//! PUT, which S3 makes atomic: a reader gets the old object or the new one.
//!
//! Registry changes are compare-and-swap: read the state and its ETag, apply the
//! [`Op`] to it, PUT with `If-Match` (or `If-None-Match:
//! *` for the first state) and start over from a fresh read when the store refuses the
//! precondition, so two publishers never lose each other's change: the second one's
//! operation is re-applied on top of the first one's result. AWS S3, MinIO, Cloudflare R2
//! and moto honour these headers; a store that ignores them makes the last writer win,
//! which is how a shared state without a lock would behave (a concurrent promotion could
//! then be overwritten: the next poll shows it, and the operator promotes again).

mod client;
mod transfer;

use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload, UpdateVersion};
use recd_model::ModelError;
use recd_model::artifact::Manifest;
use recd_model::artifact::registry::{self, Change, Op, RegistryState};

use crate::{Location, ModelStoreConfig, StoreError};

/// How many conditional writes a registry change tries before giving up: publishers are
/// few (trainings and operators), so a conflict is rare and a second attempt nearly always
/// wins.
const MAX_ATTEMPTS: usize = 8;

/// The registry object's name under the prefix (as in a models directory).
const STATE: &str = "STATE.json";

/// A model store in object storage.
#[derive(Debug, Clone)]
pub struct RemoteStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
}

impl RemoteStore {
    /// Opens the store `location` names (no request is made yet). `None` for a directory.
    pub fn open(
        location: &Location,
        config: &ModelStoreConfig,
    ) -> Result<Option<Self>, StoreError> {
        match location {
            Location::Dir(_) => Ok(None),
            Location::S3 { bucket, prefix } => {
                let url = location.to_string();
                let store = client::s3(bucket, config, &url)?;
                Ok(Some(Self::with_store(store, prefix, url)))
            }
        }
    }

    /// A store over any `object_store` backend (tests use the in-memory one).
    pub fn with_store(store: Arc<dyn ObjectStore>, prefix: &str, url: String) -> Self {
        Self {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            url,
        }
    }

    /// The store's URL, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(&self, name: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(name)
        } else {
            ObjectPath::from(format!("{}/{name}", self.prefix))
        }
    }

    fn version_path(&self, version: &str, file: &str) -> ObjectPath {
        self.path(&format!("{version}/{file}"))
    }

    fn remote(&self, source: object_store::Error) -> StoreError {
        StoreError::Remote {
            store: self.url.clone(),
            source,
        }
    }

    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            store: self.url.clone(),
            reason,
        }
    }

    /// The registry's state (empty when nothing was ever published).
    pub async fn state(&self) -> Result<RegistryState, StoreError> {
        Ok(self.versioned_state().await?.0)
    }

    /// The state and the version of its object, for a conditional replacement (`None` when
    /// there is no state object yet).
    async fn versioned_state(&self) -> Result<(RegistryState, Option<UpdateVersion>), StoreError> {
        let got = match self.store.get(&self.path(STATE)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Ok((RegistryState::default(), None));
            }
            Err(e) => return Err(self.remote(e)),
        };
        let version = UpdateVersion {
            e_tag: got.meta.e_tag.clone(),
            version: got.meta.version.clone(),
        };
        let bytes = got.bytes().await.map_err(|e| self.remote(e))?;
        let state: RegistryState =
            serde_json::from_slice(&bytes).map_err(|e| self.corrupt(format!("{STATE}: {e}")))?;
        // A state naming a path instead of a version would make a reader write outside its
        // copy; refuse it as a foreign writer's.
        let names = state
            .current
            .iter()
            .chain(&state.candidate)
            .chain(&state.previous);
        if let Some(bad) = names.into_iter().find(|v| !registry::is_version_name(v)) {
            return Err(self.corrupt(format!("{STATE} names {bad:?}, which is not a version")));
        }
        Ok((state, Some(version)))
    }

    /// Applies `op` to the registry, compare-and-swap (see the module's documentation). The
    /// version it makes current or candidate must be complete in the store.
    pub async fn change(&self, op: &Op) -> Result<Change, StoreError> {
        for attempt in 1..=MAX_ATTEMPTS {
            let (mut state, version) = self.versioned_state().await?;
            if let Some(target) = state.target(op) {
                self.check_version(&target).await?;
            }
            let change = state.apply(op).map_err(|e| match e {
                ModelError::Registry(msg) => {
                    StoreError::Model(ModelError::Registry(format!("{msg} in {}", self.url)))
                }
                other => StoreError::Model(other),
            })?;
            let text = serde_json::to_vec_pretty(&state)
                .map_err(|e| self.corrupt(format!("encoding the registry state: {e}")))?;
            let mode = match version {
                Some(v) => PutMode::Update(v),
                None => PutMode::Create,
            };
            let put = self
                .store
                .put_opts(&self.path(STATE), PutPayload::from(text), mode.into())
                .await;
            match put {
                Ok(_) => return Ok(change),
                Err(
                    object_store::Error::Precondition { .. }
                    | object_store::Error::AlreadyExists { .. },
                ) => {
                    tracing::info!(attempt, store = %self.url, "the model registry changed meanwhile; retrying the change on the new state");
                    tokio::time::sleep(Duration::from_millis(20 * attempt as u64)).await;
                }
                Err(e) => return Err(self.remote(e)),
            }
        }
        Err(StoreError::Contention {
            store: self.url.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// `version` is a complete upload: a valid name whose manifest is in the store.
    pub async fn check_version(&self, version: &str) -> Result<(), StoreError> {
        if !registry::is_version_name(version) {
            return Err(ModelError::Artifact(format!(
                "no model version {version:?} in {}",
                self.url
            ))
            .into());
        }
        match self.store.head(&self.version_path(version, "manifest.json")).await {
            Ok(_) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => Err(ModelError::Artifact(format!(
                "no model version {version:?} in {} (no manifest: never uploaded, or the upload did not finish)",
                self.url
            ))
            .into()),
            Err(e) => Err(self.remote(e)),
        }
    }

    /// The manifest of `version`.
    pub async fn manifest(&self, version: &str) -> Result<Manifest, StoreError> {
        self.check_version(version).await?;
        let path = self.version_path(version, "manifest.json");
        let bytes = self
            .store
            .get(&path)
            .await
            .map_err(|e| self.remote(e))?
            .bytes()
            .await
            .map_err(|e| self.remote(e))?;
        serde_json::from_slice(&bytes).map_err(|e| self.corrupt(format!("{path}: {e}")))
    }

    /// Deletes the versions older than the newest `keep` (in name order, which is creation
    /// order), never one the registry protects (current, candidate, rollback targets), and
    /// returns them. Each version's manifest goes first, so from then on the version is an
    /// unfinished upload that nothing activates or downloads, then the rest of its objects.
    /// `keep` 0 deletes nothing. A version activated by hand at the same moment as it is
    /// collected can lose its files: gc is an operator's command, like rollback.
    pub async fn gc(&self, keep: usize) -> Result<Vec<String>, StoreError> {
        if keep == 0 {
            return Ok(Vec::new());
        }
        let state = self.state().await?;
        let versions = self.versions().await?;
        let cut = versions.len().saturating_sub(keep);
        let doomed: Vec<String> = versions[..cut]
            .iter()
            .filter(|v| !state.protects(v))
            .cloned()
            .collect();
        for version in &doomed {
            tracing::info!(model_version = %version, keep_versions = keep, store = %self.url, "deleting a model version past retention");
            match self
                .store
                .delete(&self.version_path(version, "manifest.json"))
                .await
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.remote(e)),
            }
            let dir = self.path(version);
            let objects: Vec<ObjectPath> = {
                use futures_util::TryStreamExt;
                self.store
                    .list(Some(&dir))
                    .map_ok(|meta| meta.location)
                    .try_collect()
                    .await
                    .map_err(|e| self.remote(e))?
            };
            for object in objects {
                match self.store.delete(&object).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(self.remote(e)),
                }
            }
        }
        Ok(doomed)
    }

    /// The versions with a manifest in the store, in name order.
    pub async fn versions(&self) -> Result<Vec<String>, StoreError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        let listed = self
            .store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map_err(|e| self.remote(e))?;
        let mut res = Vec::new();
        for dir in listed.common_prefixes {
            let Some(name) = dir.filename().map(str::to_string) else {
                continue;
            };
            if registry::is_version_name(&name) && self.check_version(&name).await.is_ok() {
                res.push(name);
            }
        }
        res.sort();
        Ok(res)
    }
}

#[cfg(test)]
mod tests;
