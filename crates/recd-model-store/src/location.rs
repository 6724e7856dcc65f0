//! `[models] store` parsed: a directory or an object store.

use std::path::{Path, PathBuf};

use crate::{ModelStoreConfig, StoreError};

/// Where model versions and their registry live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A models directory: the data dir's `models/`, or a shared volume. Readers and writers
    /// use it directly, through the registry's flock and renames.
    Dir(PathBuf),
    /// S3-compatible object storage; readers keep a local copy.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix (no leading or trailing `/`; empty for the bucket's root).
        prefix: String,
    },
}

impl Location {
    /// Reads `[models] store`; an empty value is `data_dir/models`.
    pub fn parse(config: &ModelStoreConfig, data_dir: &Path) -> Result<Self, StoreError> {
        let value = config.store.trim();
        if value.is_empty() {
            return Ok(Self::Dir(data_dir.join("models")));
        }
        let bad = |reason: String| StoreError::Config {
            key: "store",
            reason,
        };
        if let Some(rest) = value.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad(format!(
                    "{value:?} names no bucket (s3://bucket/prefix)"
                )));
            }
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(|part| part == "." || part == "..") || prefix.contains("//") {
                return Err(bad(format!(
                    "{value:?}: the prefix must be plain path segments"
                )));
            }
            return Ok(Self::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            });
        }
        if let Some((scheme, _)) = value.split_once("://") {
            return Err(bad(format!(
                "{value:?}: unknown scheme {scheme:?} (a directory path or s3://bucket/prefix)"
            )));
        }
        Ok(Self::Dir(PathBuf::from(value)))
    }

    /// The directory a process reads versions from: the store itself, or (remote) its local
    /// copy in `data_dir/models`.
    pub fn local_dir(&self, data_dir: &Path) -> PathBuf {
        match self {
            Self::Dir(dir) => dir.clone(),
            Self::S3 { .. } => data_dir.join("models"),
        }
    }

    /// The directory `recd train` builds and gates versions in before publishing them: the
    /// store itself, or (remote) `data_dir/models-train`, apart from a server's copy in
    /// `data_dir/models`, so the copy only ever shows what the store says.
    pub fn train_dir(&self, data_dir: &Path) -> PathBuf {
        match self {
            Self::Dir(dir) => dir.clone(),
            Self::S3 { .. } => data_dir.join("models-train"),
        }
    }

    /// Whether the store is remote (read through a local copy).
    pub fn is_remote(&self) -> bool {
        !matches!(self, Self::Dir(_))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dir(dir) => write!(f, "{}", dir.display()),
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(store: &str) -> Result<Location, StoreError> {
        let config = ModelStoreConfig {
            store: store.into(),
            ..ModelStoreConfig::default()
        };
        Location::parse(&config, Path::new("/data"))
    }

    #[test]
    fn store_values_parse_to_their_location() {
        assert_eq!(parse("").unwrap(), Location::Dir("/data/models".into()));
        assert_eq!(
            parse("/mnt/shared/models").unwrap(),
            Location::Dir("/mnt/shared/models".into())
        );
        let s3 = parse("s3://bucket/a/b/").unwrap();
        assert_eq!(
            s3,
            Location::S3 {
                bucket: "bucket".into(),
                prefix: "a/b".into()
            }
        );
        assert_eq!(s3.to_string(), "s3://bucket/a/b");
        assert_eq!(s3.local_dir(Path::new("/data")), Path::new("/data/models"));
        assert_eq!(parse("s3://bucket").unwrap().to_string(), "s3://bucket");
    }

    #[test]
    fn bad_store_values_name_the_key() {
        for (value, says) in [
            ("s3://", "names no bucket"),
            ("s3:///prefix", "names no bucket"),
            ("gs://bucket", "unknown scheme \"gs\""),
            ("s3://b/a/../c", "plain path segments"),
        ] {
            let e = parse(value).unwrap_err().to_string();
            assert!(e.starts_with("config key models.store: "), "{e}");
            assert!(e.contains(says), "{value}: {e}");
        }
    }
}
