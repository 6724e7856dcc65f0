//! Array files (`*.arr`): one typed, shaped array per file.
//!
//! Layout (all little-endian):
//! ```text
//! magic  b"RECDARR1"           8 bytes
//! dtype  u32                   1 = f32, 2 = u32, 3 = i64, 4 = u64
//! ndim   u32                   1 or 2
//! dims   u64 × ndim            rows first
//! data   dims product × size   row-major
//! ```
//! Why not npy/parquet/safetensors: we need four dtypes and two dimensions, a loader that is
//! fifty lines with no dependency, and exact control of what the serving side parses. The
//! manifest's checksums catch bit rot; this header catches a wrong or truncated file.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use crate::ModelError;

const MAGIC: &[u8; 8] = b"RECDARR1";

/// Element types an array file can hold.
pub trait Element: Copy + Sized {
    /// The dtype code in the header.
    const DTYPE: u32;
    /// Size in bytes.
    const SIZE: usize;
    /// Appends the little-endian bytes of `self`.
    fn put(self, out: &mut Vec<u8>);
    /// Reads one value from exactly `Self::SIZE` bytes.
    fn get(bytes: &[u8]) -> Self;
}

macro_rules! element {
    ($t:ty, $code:expr) => {
        impl Element for $t {
            const DTYPE: u32 = $code;
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(bytes: &[u8]) -> Self {
                let mut b = [0u8; std::mem::size_of::<$t>()];
                b.copy_from_slice(bytes);
                <$t>::from_le_bytes(b)
            }
        }
    };
}
element!(f32, 1);
element!(u32, 2);
element!(i64, 3);

/// Writes `data` with shape `dims` to `path`.
pub fn write<T: Element>(path: &Path, dims: &[usize], data: &[T]) -> Result<(), ModelError> {
    let n: usize = dims.iter().product();
    if n != data.len() || dims.is_empty() || dims.len() > 2 {
        return Err(ModelError::Shape(format!(
            "{}: dims {dims:?} do not fit {} values",
            path.display(),
            data.len()
        )));
    }
    let file = File::create(path).map_err(|e| io_err(path, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut header = Vec::with_capacity(32);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&T::DTYPE.to_le_bytes());
    header.extend_from_slice(&(dims.len() as u32).to_le_bytes());
    for d in dims {
        header.extend_from_slice(&(*d as u64).to_le_bytes());
    }
    w.write_all(&header).map_err(|e| io_err(path, e))?;
    let mut buf = Vec::with_capacity(1 << 16);
    for chunk in data.chunks(1 << 14) {
        buf.clear();
        for v in chunk {
            v.put(&mut buf);
        }
        w.write_all(&buf).map_err(|e| io_err(path, e))?;
    }
    w.flush().map_err(|e| io_err(path, e))
}

/// Reads an array written by [`write()`]; returns its dims and data. The dtype must match `T`.
pub fn read<T: Element>(path: &Path) -> Result<(Vec<usize>, Vec<T>), ModelError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| io_err(path, e))?;
    let bad = |reason: String| ModelError::Artifact(format!("{}: {reason}", path.display()));
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err(bad("not an array file (bad magic)".into()));
    }
    let dtype = u32::get(&bytes[8..12]);
    if dtype != T::DTYPE {
        return Err(bad(format!("dtype {dtype}, expected {}", T::DTYPE)));
    }
    let ndim = u32::get(&bytes[12..16]) as usize;
    if !(1..=2).contains(&ndim) || bytes.len() < 16 + 8 * ndim {
        return Err(bad(format!("bad ndim {ndim}")));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|d| u64::get(&bytes[16 + 8 * d..24 + 8 * d]) as usize)
        .collect();
    let n = dims
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(*d))
        .ok_or_else(|| bad("dims overflow".into()))?;
    let body = &bytes[16 + 8 * ndim..];
    if body.len() != n.saturating_mul(T::SIZE) {
        return Err(bad(format!(
            "{} data bytes, expected {}",
            body.len(),
            n * T::SIZE
        )));
    }
    Ok((dims, body.chunks_exact(T::SIZE).map(T::get).collect()))
}

element!(u64, 4);

fn io_err(path: &Path, e: std::io::Error) -> ModelError {
    ModelError::Artifact(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.arr");
        write(&p, &[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let (dims, data) = read::<f32>(&p).unwrap();
        assert_eq!(dims, vec![2, 3]);
        assert_eq!(data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert!(read::<u32>(&p).is_err(), "dtype is checked");
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 1]).unwrap();
        assert!(read::<f32>(&p).is_err(), "truncation is caught");
        assert!(write(&p, &[4], &[1u32, 2]).is_err());
    }
}
