//! `recd train --als-from DIR`: reads the ALS factors that `spark/train_als.py` writes
//! (docs/model-format.md, "ALS factors from Spark"). Every problem names the file, and the
//! line and column where one applies.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use recd_model::als::Factors;
use recd_train::external_als::{ExternalAls, FactorSet};
use serde::Deserialize;

/// The `format` of the manifest this build reads, and its version.
const FORMAT: &str = "recd-als-factors";
const FORMAT_VERSION: u32 = 1;

/// The fields of `DIR/manifest.json` that loading needs; the whole manifest goes into the
/// model's manifest as it is.
#[derive(Debug, Deserialize)]
struct JobManifest {
    format: String,
    format_version: u32,
    sets: BTreeMap<String, SetEntry>,
}

#[derive(Debug, Deserialize)]
struct SetEntry {
    rank: usize,
    n_users: usize,
    n_items: usize,
    n_pairs: u64,
    confidence_sum: f64,
}

/// Reads `dir`: its `fit` set, and its `full` set when `need_full`.
pub fn load(dir: &Path, need_full: bool) -> anyhow::Result<ExternalAls> {
    if !dir.is_dir() {
        bail!("--als-from {}: no such directory", dir.display());
    }
    let path = dir.join("manifest.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let raw: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let manifest: JobManifest = serde_path_to_error::deserialize(&raw)
        .with_context(|| format!("{}: not a factor manifest", path.display()))?;
    if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
        bail!(
            "{}: format `{}` version {} (this build reads `{FORMAT}` version {FORMAT_VERSION})",
            path.display(),
            manifest.format,
            manifest.format_version
        );
    }
    let set = |name: &str| -> anyhow::Result<FactorSet> {
        let entry = manifest
            .sets
            .get(name)
            .with_context(|| format!("{}: no `sets.{name}`", path.display()))?;
        read_set(dir, name, entry)
    };
    let fit = set("fit")?;
    let full = if need_full { Some(set("full")?) } else { None };
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let source = serde_json::json!({
        "kind": "spark",
        "dir": dir.display().to_string(),
        "manifest": raw,
    });
    Ok(ExternalAls { source, fit, full })
}

fn read_set(dir: &Path, name: &str, entry: &SetEntry) -> anyhow::Result<FactorSet> {
    if entry.rank == 0 {
        bail!(
            "{}: sets.{name}.rank is 0",
            dir.join("manifest.json").display()
        );
    }
    let (users, user_factors) = read_side(&dir.join(name).join("users"), entry.rank)?;
    let (items, item_factors) = read_side(&dir.join(name).join("items"), entry.rank)?;
    for (side, n, expected) in [
        ("users", users.len(), entry.n_users),
        ("items", items.len(), entry.n_items),
    ] {
        if n != expected {
            bail!(
                "{}: sets.{name}.n_{side} is {expected}, but {} holds {n} rows",
                dir.join("manifest.json").display(),
                dir.join(name).join(side).display()
            );
        }
    }
    Ok(FactorSet {
        name: name.to_string(),
        users,
        user_factors,
        items,
        item_factors,
        n_pairs: entry.n_pairs,
        confidence_sum: entry.confidence_sum,
    })
}

/// Reads every `*.csv` file of `side_dir` in name order: rows of an id and `rank` numbers.
fn read_side(side_dir: &Path, rank: usize) -> anyhow::Result<(HashMap<String, u32>, Factors)> {
    let files = csv_files(side_dir)?;
    let mut ids = HashMap::new();
    let mut data = Vec::new();
    for file in &files {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_path(file)
            .with_context(|| format!("opening {}", file.display()))?;
        for record in reader.records() {
            let record = record.with_context(|| format!("reading {}", file.display()))?;
            let line = record.position().map_or(0, |p| p.line());
            let at = || format!("{}:{line}", file.display());
            if record.len() != rank + 1 {
                bail!(
                    "{}: expected {} fields (the id and {rank} factors), found {}",
                    at(),
                    rank + 1,
                    record.len()
                );
            }
            let id = &record[0];
            if id.is_empty() {
                bail!("{}:1: empty id", at());
            }
            for (k, text) in record.iter().enumerate().skip(1) {
                match text.trim().parse::<f32>() {
                    Ok(v) if v.is_finite() => data.push(v),
                    _ => bail!("{}:{}: `{text}` is not a finite number", at(), k + 1),
                }
            }
            let row = ids.len() as u32;
            if ids.insert(id.to_string(), row).is_some() {
                bail!("{}: id `{id}` appears twice", at());
            }
        }
    }
    let factors = Factors::from_vec(ids.len(), rank, data)
        .with_context(|| format!("factors of {}", side_dir.display()))?;
    Ok((ids, factors))
}

fn csv_files(side_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(side_dir).with_context(|| format!("reading {}", side_dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", side_dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "csv") {
            files.push(path);
        }
    }
    if files.is_empty() {
        bail!("{}: no *.csv files", side_dir.display());
    }
    files.sort();
    Ok(files)
}
