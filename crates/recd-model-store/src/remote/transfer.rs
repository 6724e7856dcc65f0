//! Moving a version's files between a models directory and the store.

use std::path::{Path, PathBuf};
use std::time::Instant;

use futures_util::StreamExt;
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};
use recd_model::artifact::{Manifest, registry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::RemoteStore;
use crate::StoreError;

/// Files up to this size go up in one PUT; larger ones in parts of this size, so an upload
/// holds at most a few parts in memory whatever the model's size.
const PART_BYTES: usize = 16 << 20;

/// Parts in flight at once for one large file.
const PARTS_IN_FLIGHT: usize = 2;

/// The temporary directory a download writes into before the rename that makes it visible:
/// a dot name, which the registry's listing and a model load never pick up, and one per
/// process, so a `recd recommend` pulling beside a server never writes into its download.
fn download_dir(models_dir: &Path, version: &str) -> PathBuf {
    models_dir.join(format!(".download-{version}-{}", std::process::id()))
}

impl RemoteStore {
    /// Uploads the version in `models_dir/version`: every file its manifest lists, then the
    /// manifest, which makes the version visible. A version whose manifest is already in the
    /// store is left as it is (versions never change once published). Returns whether
    /// anything was uploaded.
    pub async fn upload(&self, models_dir: &Path, version: &str) -> Result<bool, StoreError> {
        let dir = registry::version_dir(models_dir, version);
        let manifest = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || Manifest::read(&dir))
                .await
                .map_err(|e| self.corrupt(format!("reading the manifest: {e}")))??
        };
        if self.check_version(version).await.is_ok() {
            return Ok(false);
        }
        for name in manifest.files.keys() {
            self.upload_file(&dir.join(name), version, name).await?;
        }
        self.upload_file(&dir.join("manifest.json"), version, "manifest.json")
            .await?;
        Ok(true)
    }

    async fn upload_file(&self, path: &Path, version: &str, name: &str) -> Result<(), StoreError> {
        let target = self.version_path(version, name);
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| StoreError::io(path, e))?;
        let len = file
            .metadata()
            .await
            .map_err(|e| StoreError::io(path, e))?
            .len();
        if len as usize <= PART_BYTES {
            let mut bytes = Vec::with_capacity(len as usize);
            file.read_to_end(&mut bytes)
                .await
                .map_err(|e| StoreError::io(path, e))?;
            self.store
                .put(&target, PutPayload::from(bytes))
                .await
                .map_err(|e| self.remote(e))?;
            return Ok(());
        }
        let upload = self
            .store
            .put_multipart(&target)
            .await
            .map_err(|e| self.remote(e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file
                .read(&mut buf)
                .await
                .map_err(|e| StoreError::io(path, e))?;
            if n == 0 {
                break;
            }
            writer
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(|e| self.remote(e))?;
            writer.write(&buf[..n]);
        }
        writer.finish().await.map_err(|e| self.remote(e))?;
        Ok(())
    }

    /// Makes `models_dir/version` a verified copy of the store's version, unless a complete
    /// copy is already there: the files are written into a temporary directory, every
    /// checksum of the manifest is verified, and only then is it renamed into place, so a
    /// reader of `models_dir` never sees a partial or damaged download. Returns whether it
    /// downloaded.
    pub async fn download(&self, models_dir: &Path, version: &str) -> Result<bool, StoreError> {
        if Manifest::read(&registry::version_dir(models_dir, version)).is_ok() {
            return Ok(false);
        }
        let started = Instant::now();
        let manifest = self.manifest(version).await?;
        if manifest.version != version {
            return Err(self.corrupt(format!(
                "{version}/manifest.json describes version {:?}",
                manifest.version
            )));
        }
        let tmp = download_dir(models_dir, version);
        remove_dir(&tmp).await?;
        let placed = match self.fetch_into(&tmp, version, &manifest).await {
            Ok(()) => {
                let (tmp, models, v) = (tmp.clone(), models_dir.to_path_buf(), version.to_string());
                tokio::task::spawn_blocking(move || place(&models, &tmp, &v))
                    .await
                    .map_err(|e| self.corrupt(format!("verifying the download: {e}")))
                    .and_then(|placed| placed)
            }
            Err(e) => Err(e),
        };
        if !matches!(placed, Ok(true)) {
            let _ = remove_dir(&tmp).await;
        }
        if !placed? {
            return Ok(false);
        }
        metrics::counter!("recd_model_store_downloads_total").increment(1);
        metrics::histogram!("recd_model_store_download_seconds")
            .record(started.elapsed().as_secs_f64());
        tracing::info!(
            model_version = version,
            store = %self.url,
            files = manifest.files.len() + 1,
            bytes = manifest.files.values().map(|f| f.bytes).sum::<u64>(),
            download_ms = started.elapsed().as_millis() as u64,
            "model version downloaded from the model store"
        );
        Ok(true)
    }

    /// Writes every file of `manifest`, then the manifest itself, into `tmp`.
    async fn fetch_into(
        &self,
        tmp: &Path,
        version: &str,
        manifest: &Manifest,
    ) -> Result<(), StoreError> {
        tokio::fs::create_dir_all(tmp)
            .await
            .map_err(|e| StoreError::io(tmp, e))?;
        for name in manifest.files.keys() {
            if !registry::is_version_name(name) || name == "manifest.json" {
                return Err(
                    self.corrupt(format!("{version}/manifest.json lists the file {name:?}"))
                );
            }
            self.download_file(version, name, &tmp.join(name)).await?;
        }
        self.download_file(version, "manifest.json", &tmp.join("manifest.json"))
            .await
    }

    async fn download_file(&self, version: &str, name: &str, to: &Path) -> Result<(), StoreError> {
        let got = self
            .store
            .get(&self.version_path(version, name))
            .await
            .map_err(|e| self.remote(e))?;
        let mut file = tokio::fs::File::create(to)
            .await
            .map_err(|e| StoreError::io(to, e))?;
        let mut stream = got.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.remote(e))?;
            file.write_all(&chunk)
                .await
                .map_err(|e| StoreError::io(to, e))?;
        }
        file.sync_all().await.map_err(|e| StoreError::io(to, e))
    }
}

/// Verifies the download in `tmp` against its manifest (format version checked too) and
/// renames it into place; `false` when another process (a `recd recommend` beside the server)
/// placed the same version first.
fn place(models_dir: &Path, tmp: &Path, version: &str) -> Result<bool, StoreError> {
    Manifest::read(tmp)?.verify(tmp)?;
    if Manifest::read(&registry::version_dir(models_dir, version)).is_ok() {
        return Ok(false);
    }
    registry::publish(models_dir, tmp, version)?;
    Ok(true)
}

async fn remove_dir(dir: &Path) -> Result<(), StoreError> {
    match tokio::fs::remove_dir_all(dir).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(dir, e)),
    }
}
