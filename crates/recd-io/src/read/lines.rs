//! Line-at-a-time reading with line numbers and a byte count, for the line-based formats.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::IoError;

/// Reads a file line by line into one reused buffer (no allocation per line).
pub(crate) struct Lines {
    path: PathBuf,
    reader: BufReader<File>,
    buf: Vec<u8>,
    line: u64,
    bytes: u64,
}

impl Lines {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Self, IoError> {
        let file = File::open(path).map_err(|e| IoError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(256 * 1024, file),
            buf: Vec::new(),
            line: 0,
            bytes: 0,
        })
    }

    /// Moves to the next line that is not blank; false at the end of the file.
    pub fn advance(&mut self) -> Result<bool, IoError> {
        loop {
            self.buf.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| IoError::io(&self.path, e))?;
            if n == 0 {
                return Ok(false);
            }
            self.line += 1;
            self.bytes += n as u64;
            while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                self.buf.pop();
            }
            if !self.buf.iter().all(u8::is_ascii_whitespace) {
                return Ok(true);
            }
        }
    }

    /// The current line, without its line ending.
    pub fn current(&self) -> &[u8] {
        &self.buf
    }

    /// 1-based number of the current line.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Bytes consumed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
