//! The remote store's logic over `object_store`'s in-memory backend (the S3 client itself is
//! exercised against a local S3 server by the binary's end-to-end tests).

use std::path::Path;
use std::sync::Arc;

use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt};
use recd_model::artifact::registry::{self, Op};
use recd_model::artifact::{FORMAT_VERSION, Manifest};

use super::RemoteStore;
use crate::StoreError;
use crate::mirror::pull;

fn store() -> (RemoteStore, Arc<InMemory>) {
    let memory = Arc::new(InMemory::new());
    let remote = RemoteStore::with_store(memory.clone(), "models/", "memory://models".into());
    (remote, memory)
}

/// Publishes a version with two files into the models directory `models`.
fn make(models: &Path, version: &str, created_ms: i64) {
    let tmp = models.join(format!(".tmp-{version}"));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("a.json"), format!("{{\"v\": \"{version}\"}}")).unwrap();
    std::fs::write(tmp.join("b.arr"), vec![7u8; 1000]).unwrap();
    let mut m = Manifest {
        format_version: FORMAT_VERSION,
        version: version.into(),
        created_ms,
        data_window_ms: (0, 1),
        params: serde_json::json!({}),
        metrics: serde_json::json!({}),
        files: Default::default(),
    };
    m.write(&tmp).unwrap();
    registry::publish(models, &tmp, version).unwrap();
}

#[tokio::test]
async fn a_published_version_reaches_a_copy_complete_and_verified() {
    let (remote, _) = store();
    let trainer = tempfile::tempdir().unwrap();
    make(trainer.path(), "v1", 1);
    assert!(remote.upload(trainer.path(), "v1").await.unwrap());
    assert!(
        !remote.upload(trainer.path(), "v1").await.unwrap(),
        "uploaded once"
    );
    remote.change(&Op::Activate("v1".into())).await.unwrap();

    let server = tempfile::tempdir().unwrap();
    let pulled = pull(&remote, server.path(), true).await.unwrap();
    assert_eq!(pulled.downloaded, ["v1"]);
    assert_eq!(
        registry::current(server.path()).unwrap().as_deref(),
        Some("v1")
    );
    registry::check_version(server.path(), "v1").unwrap();
    assert_eq!(
        std::fs::read(server.path().join("v1/a.json")).unwrap(),
        std::fs::read(trainer.path().join("v1/a.json")).unwrap()
    );
    let again = pull(&remote, server.path(), true).await.unwrap();
    assert!(
        again.downloaded.is_empty(),
        "a complete copy is not downloaded again"
    );
}

#[tokio::test]
async fn a_version_without_its_manifest_cannot_be_activated() {
    let (remote, memory) = store();
    let trainer = tempfile::tempdir().unwrap();
    make(trainer.path(), "v1", 1);
    remote.upload(trainer.path(), "v1").await.unwrap();
    // An upload that stopped before its manifest: the files, but no manifest.
    memory
        .delete(&remote.version_path("v1", "manifest.json"))
        .await
        .unwrap();
    let e = remote.change(&Op::Activate("v1".into())).await.unwrap_err();
    assert!(e.to_string().contains("no manifest"), "{e}");
    assert_eq!(remote.state().await.unwrap().current, None);
}

#[tokio::test]
async fn a_damaged_file_is_never_placed_in_the_copy() {
    let (remote, memory) = store();
    let trainer = tempfile::tempdir().unwrap();
    make(trainer.path(), "v1", 1);
    remote.upload(trainer.path(), "v1").await.unwrap();
    remote.change(&Op::Activate("v1".into())).await.unwrap();
    memory
        .put(&remote.version_path("v1", "b.arr"), vec![8u8; 1000].into())
        .await
        .unwrap();
    let server = tempfile::tempdir().unwrap();
    let e = pull(&remote, server.path(), true).await.unwrap_err();
    assert!(e.to_string().contains("checksum mismatch"), "{e}");
    assert!(!server.path().join("v1").exists());
    assert!(
        !server.path().join(".download-v1").exists(),
        "the partial copy is removed"
    );
    assert_eq!(registry::current(server.path()).unwrap(), None);
}

#[tokio::test]
async fn registry_changes_follow_the_registry_rules() {
    let (remote, _) = store();
    let trainer = tempfile::tempdir().unwrap();
    for (i, v) in ["v1", "v2", "v3"].iter().enumerate() {
        make(trainer.path(), v, i as i64);
        remote.upload(trainer.path(), v).await.unwrap();
    }
    remote.change(&Op::Activate("v1".into())).await.unwrap();
    remote.change(&Op::Activate("v2".into())).await.unwrap();
    remote.change(&Op::Stage("v3".into())).await.unwrap();
    let e = remote.change(&Op::Stage("v2".into())).await.unwrap_err();
    assert!(e.to_string().contains("already CURRENT"), "{e}");
    let state = remote.state().await.unwrap();
    assert_eq!(state.current.as_deref(), Some("v2"));
    assert_eq!(state.candidate.as_deref(), Some("v3"));
    assert_eq!(state.previous, ["v1"]);
    let promoted = remote.change(&Op::Promote).await.unwrap();
    assert_eq!(
        (promoted.version.as_str(), promoted.replaced.as_deref()),
        ("v3", Some("v2"))
    );
    let back = remote.change(&Op::Rollback).await.unwrap();
    assert_eq!(back.version, "v2");
    assert_eq!(remote.versions().await.unwrap(), ["v1", "v2", "v3"]);
}

/// An in-memory store where another publisher writes `STATE.json` between this one's read and
/// its first conditional write: what the compare-and-swap loop exists for.
#[derive(Debug)]
struct Racing {
    inner: InMemory,
    /// The state the other publisher writes, taken on the first conditional write.
    rival: std::sync::Mutex<Option<Vec<u8>>>,
    /// Conditional writes of the state seen.
    attempts: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Display for Racing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Racing")
    }
}

#[async_trait::async_trait]
impl object_store::ObjectStore for Racing {
    async fn put_opts(
        &self,
        location: &object_store::path::Path,
        payload: object_store::PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        if location.filename() == Some("STATE.json")
            && matches!(opts.mode, object_store::PutMode::Update(_))
        {
            self.attempts
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let rival = self.rival.lock().unwrap().take();
            if let Some(rival) = rival {
                self.inner.put(location, rival.into()).await?;
            }
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &object_store::path::Path,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &object_store::path::Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: futures_util::stream::BoxStream<
            'static,
            object_store::Result<object_store::path::Path>,
        >,
    ) -> futures_util::stream::BoxStream<'static, object_store::Result<object_store::path::Path>>
    {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> futures_util::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>>
    {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &object_store::path::Path,
        to: &object_store::path::Path,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[tokio::test]
async fn a_change_lost_to_a_concurrent_publisher_is_applied_again_on_its_state() {
    let racing = Arc::new(Racing {
        inner: InMemory::new(),
        rival: Default::default(),
        attempts: Default::default(),
    });
    let remote = RemoteStore::with_store(racing.clone(), "models", "memory://models".into());
    let trainer = tempfile::tempdir().unwrap();
    for (i, v) in ["v1", "v2", "v3"].iter().enumerate() {
        make(trainer.path(), v, i as i64);
        remote.upload(trainer.path(), v).await.unwrap();
    }
    remote.change(&Op::Activate("v1".into())).await.unwrap();
    // The rival stages v3 after this publisher read the state and before it writes.
    let rival = r#"{"current": "v1", "candidate": "v3", "previous": []}"#;
    *racing.rival.lock().unwrap() = Some(rival.as_bytes().to_vec());
    let before = racing.attempts.load(std::sync::atomic::Ordering::SeqCst);
    remote.change(&Op::Activate("v2".into())).await.unwrap();
    let attempts = racing.attempts.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert_eq!(
        attempts, 2,
        "refused once, then applied to the rival's state"
    );
    let state = remote.state().await.unwrap();
    assert_eq!(state.current.as_deref(), Some("v2"));
    assert_eq!(
        state.candidate.as_deref(),
        Some("v3"),
        "the rival's change is kept"
    );
    assert_eq!(state.previous, ["v1"]);
}

#[tokio::test]
async fn a_stale_conditional_write_is_refused_by_the_store() {
    // What the retry loop relies on: the backend refuses an update against an old ETag.
    let (remote, memory) = store();
    let trainer = tempfile::tempdir().unwrap();
    make(trainer.path(), "v1", 1);
    remote.upload(trainer.path(), "v1").await.unwrap();
    remote.change(&Op::Activate("v1".into())).await.unwrap();
    let (_, stale) = remote.versioned_state().await.unwrap();
    remote.change(&Op::Activate("v1".into())).await.unwrap();
    let put = memory
        .put_opts(
            &remote.path("STATE.json"),
            b"{}".to_vec().into(),
            object_store::PutMode::Update(stale.unwrap()).into(),
        )
        .await;
    assert!(
        matches!(put, Err(object_store::Error::Precondition { .. })),
        "{put:?}"
    );
}

#[tokio::test]
async fn registry_errors_name_the_store_and_a_foreign_state_is_refused() {
    let (remote, memory) = store();
    let e = remote.change(&Op::Promote).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "model registry: no candidate to promote in memory://models"
    );
    memory
        .put(
            &remote.path("STATE.json"),
            br#"{"current": "../etc"}"#.to_vec().into(),
        )
        .await
        .unwrap();
    let e = remote.state().await.unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
}

#[tokio::test]
async fn the_copy_follows_the_store_and_keeps_only_recent_versions() {
    let (remote, _) = store();
    let trainer = tempfile::tempdir().unwrap();
    let server = tempfile::tempdir().unwrap();
    for i in 1..=5 {
        let v = format!("v{i}");
        make(trainer.path(), &v, i);
        remote.upload(trainer.path(), &v).await.unwrap();
        remote.change(&Op::Activate(v.clone())).await.unwrap();
        pull(&remote, server.path(), true).await.unwrap();
        assert_eq!(registry::current(server.path()).unwrap(), Some(v));
    }
    let kept: Vec<String> = registry::list(server.path())
        .unwrap()
        .into_iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(kept, ["v3", "v4", "v5"], "a cache of the newest versions");

    // A candidate is copied only when asked for; without it the copy names none.
    make(trainer.path(), "v6", 6);
    remote.upload(trainer.path(), "v6").await.unwrap();
    remote.change(&Op::Stage("v6".into())).await.unwrap();
    let trainer_copy = tempfile::tempdir().unwrap();
    let pulled = pull(&remote, trainer_copy.path(), false).await.unwrap();
    assert_eq!(pulled.downloaded, ["v5"]);
    assert_eq!(
        registry::state(trainer_copy.path()).unwrap().candidate,
        None
    );
    let pulled = pull(&remote, server.path(), true).await.unwrap();
    assert_eq!(pulled.downloaded, ["v6"]);
    assert_eq!(
        registry::state(server.path()).unwrap().candidate.as_deref(),
        Some("v6")
    );
}

#[tokio::test]
async fn gc_deletes_old_versions_but_never_a_protected_one() {
    let (remote, memory) = store();
    let trainer = tempfile::tempdir().unwrap();
    for (n, version) in ["v1", "v2", "v3", "v4", "v5"].iter().enumerate() {
        make(trainer.path(), version, n as i64);
        remote.upload(trainer.path(), version).await.unwrap();
    }
    // v1 current, then v2: v1 is the rollback target; v5 the candidate.
    remote.change(&Op::Activate("v1".into())).await.unwrap();
    remote.change(&Op::Activate("v2".into())).await.unwrap();
    remote.change(&Op::Stage("v5".into())).await.unwrap();
    let deleted = remote.gc(2).await.unwrap();
    assert_eq!(
        deleted,
        ["v3"],
        "v1 and v2 are protected, v4 and v5 the newest two"
    );
    assert_eq!(remote.versions().await.unwrap(), ["v1", "v2", "v4", "v5"]);
    let left: Vec<String> = {
        use futures_util::TryStreamExt;
        memory
            .list(Some(&"models/v3".into()))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap()
    };
    assert!(left.is_empty(), "objects of v3 left: {left:?}");
    assert!(
        remote.gc(0).await.unwrap().is_empty(),
        "keep 0 deletes nothing"
    );
}
