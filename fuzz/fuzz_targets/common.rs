//! Shared by the import targets: the bytes as a file, read to the end.

use std::path::{Path, PathBuf};

use recd_io::{IoError, Records};

/// A file of this process in the temporary directory, rewritten on every input.
pub fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("recd-fuzz-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).expect("write the scratch file");
    path
}

/// Reads `path` with `read` to the end; every error must name the file.
pub fn read_all<T>(path: &Path, read: impl Fn(&Path) -> Result<Records<T>, IoError>) {
    let named = |e: &IoError| {
        let text = e.to_string();
        assert!(
            text.starts_with(&path.display().to_string()),
            "error does not name the file: {text}"
        );
    };
    match read(path) {
        Err(e) => named(&e),
        Ok(records) => {
            for next in records {
                if let Err(e) = next {
                    named(&e);
                }
            }
        }
    }
}
