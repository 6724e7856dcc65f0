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
    done: bool,
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
            done: false,
        })
    }

    /// Moves to the next line that is not blank; false at the end of the file.
    fn advance(&mut self) -> Result<bool, IoError> {
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

    /// Like [`Lines::advance`], shaped for a record source: `None` at the end and after the
    /// first error (the source is fused), `Some(Ok(()))` when a line is ready.
    pub fn next_line(&mut self) -> Option<Result<(), IoError>> {
        if self.done {
            return None;
        }
        match self.advance() {
            Ok(true) => Some(Ok(())),
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
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
