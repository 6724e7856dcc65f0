//! Input formats and how `auto` picks one from a file's name and header line.

use std::io::{BufRead, Read};
use std::path::Path;
use std::str::FromStr;

use crate::IoError;

/// An input format, as `--format` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Decide per file from its name and header line (see [`detect`]).
    Auto,
    /// MovieLens 100K: `u.data`, `u.item`, `u.user`.
    Ml100k,
    /// MovieLens CSV releases: `ratings.csv`, `movies.csv`.
    MovielensCsv,
    /// Generic CSV with a header naming recd's fields (also the protocol CSV).
    Csv,
    /// One JSON object per line with recd's field names.
    Jsonl,
    /// The Parquet schema `recd export` writes (events only).
    Parquet,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 6] = [
        Format::Auto,
        Format::Ml100k,
        Format::MovielensCsv,
        Format::Csv,
        Format::Jsonl,
        Format::Parquet,
    ];

    /// The name `--format` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Ml100k => "ml100k",
            Format::MovielensCsv => "movielens-csv",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
                format!("unknown format {s:?}; expected one of {}", names.join(", "))
            })
    }
}

/// Resolves [`Format::Auto`] for `path`; any other format is returned as is.
pub fn resolve(path: &Path, format: Format) -> Result<Format, IoError> {
    match format {
        Format::Auto => detect(path),
        other => Ok(other),
    }
}

/// Picks the format of `path`: MovieLens 100K file names (`u.data`, `u.item`, `u.user`, and the
/// `u1.base`.. split files); `.parquet`; `.jsonl`/`.ndjson`; `.csv` with a `userId` or
/// `movieId` column is MovieLens CSV, any other `.csv` is generic CSV.
pub fn detect(path: &Path) -> Result<Format, IoError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if is_ml100k_name(&name) {
        return Ok(Format::Ml100k);
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "parquet" => Ok(Format::Parquet),
        "jsonl" | "ndjson" => Ok(Format::Jsonl),
        "csv" => {
            let header = first_line(path)?;
            let movielens = header
                .split(',')
                .map(|c| c.trim().trim_matches('"'))
                .any(|c| c == "userId" || c == "movieId");
            Ok(if movielens {
                Format::MovielensCsv
            } else {
                Format::Csv
            })
        }
        _ => Err(IoError::bad_file(
            path,
            "cannot tell the format from the file name; pass --format \
             (ml100k, movielens-csv, csv, jsonl or parquet)",
        )),
    }
}

fn is_ml100k_name(name: &str) -> bool {
    if matches!(name, "u.data" | "u.item" | "u.user") {
        return true;
    }
    // The split files shipped with ml-100k: u1.base .. u5.test, ua.base, ub.test.
    let Some((stem, ext)) = name.split_once('.') else {
        return false;
    };
    let split = matches!(stem, "u1" | "u2" | "u3" | "u4" | "u5" | "ua" | "ub");
    split && matches!(ext, "base" | "test")
}

fn first_line(path: &Path) -> Result<String, IoError> {
    let file = std::fs::File::open(path).map_err(|e| IoError::io(path, e))?;
    let mut line = Vec::new();
    std::io::BufReader::new(file)
        .take(64 * 1024)
        .read_until(b'\n', &mut line)
        .map_err(|e| IoError::io(path, e))?;
    Ok(String::from_utf8_lossy(&line).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_with(name: &str, content: &str) -> Result<Format, IoError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        detect(&path)
    }

    #[test]
    fn names_and_headers_decide() {
        assert_eq!(
            detect_with("u.data", "1\t2\t3\t4\n").unwrap(),
            Format::Ml100k
        );
        assert_eq!(detect_with("u1.base", "").unwrap(), Format::Ml100k);
        assert_eq!(detect_with("e.parquet", "").unwrap(), Format::Parquet);
        assert_eq!(detect_with("e.ndjson", "{}").unwrap(), Format::Jsonl);
        assert_eq!(
            detect_with("ratings.csv", "userId,movieId,rating,timestamp\n").unwrap(),
            Format::MovielensCsv
        );
        assert_eq!(
            detect_with("train.csv", "user_id,item_id,rating,timestamp\n").unwrap(),
            Format::Csv
        );
    }

    #[test]
    fn undecidable_names_the_file() {
        let err = detect_with("events.txt", "x").unwrap_err();
        assert!(err.to_string().contains("events.txt"), "{err}");
        assert!(err.is_input_error());
    }

    #[test]
    fn names_parse() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>(), Ok(f));
        }
        assert!("xml".parse::<Format>().is_err());
    }
}
