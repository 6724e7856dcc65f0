//! Small files the engine keeps in the data dir (experiments, the rollout's history).

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to a temporary name, syncs it, renames it over `path` and syncs the dir: a
/// crash leaves the old file or the new one, never half of one.
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
