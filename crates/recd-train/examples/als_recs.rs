//! Fits ALS on a `train.csv` (user_id,item_id,rating,timestamp; each row is one interaction
//! with value 1, like the peers' default `--weight binary`) and writes the top 10 unseen items
//! for every user of `--users` (a test.csv) to `--out`, in the format
//! `shared/bench/evaluate.py` scores. Used to compare model quality with
//! `shared/bench/peers/implicit_als.py` at equal settings:
//!
//! ```text
//! cargo run --release -p recd-train --example als_recs -- --train S/train.csv \
//!     --users S/test.csv --out R.csv --factors 64 --regularization 10 --alpha 1 --iterations 15
//! ```
//!
//! Users unknown to train, and slots the model cannot fill, get the most popular unseen
//! items (train count, then id), as the peers do.

use std::collections::HashMap;
use std::error::Error;
use std::io::Write;
use std::time::Instant;

use recd_train::CsrBuilder;
use recd_train::als::{AlsConfig, fit};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const N: usize = 10;

struct Args {
    train: String,
    users: String,
    out: String,
    threads: usize,
    config: AlsConfig,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        train: String::new(),
        users: String::new(),
        out: String::new(),
        threads: 2,
        config: AlsConfig::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--train" => args.train = value,
            "--users" => args.users = value,
            "--out" => args.out = value,
            "--threads" => args.threads = value.parse().map_err(|e| bad(&e))?,
            "--factors" => args.config.factors = value.parse().map_err(|e| bad(&e))?,
            "--regularization" => {
                args.config.regularization = value.parse().map_err(|e| bad(&e))?
            }
            "--alpha" => args.config.alpha = value.parse().map_err(|e| bad(&e))?,
            "--iterations" => args.config.iterations = value.parse().map_err(|e| bad(&e))?,
            "--seed" => args.config.seed = value.parse().map_err(|e| bad(&e))?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    if args.train.is_empty() || args.users.is_empty() || args.out.is_empty() {
        return Err("--train, --users and --out are required".into());
    }
    Ok(args)
}

/// Reads (user_id, item_id) of every row of a CSV with those header columns.
fn read_pairs(path: &str) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or(format!("{path}: empty"))?
        .split(',')
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| format!("{path}: line 1: missing column {name}"))
    };
    let (u, i) = (col("user_id")?, col("item_id")?);
    let mut out = Vec::new();
    for (n, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        match (fields.get(u), fields.get(i)) {
            (Some(user), Some(item)) => {
                out.push((user.trim().to_string(), item.trim().to_string()))
            }
            _ => return Err(format!("{path}: line {}: too few fields", n + 2).into()),
        }
    }
    Ok(out)
}

/// Numeric ids sort numerically, others after them by text (the peers' `id_key`).
fn id_key(id: &str) -> (u8, u64, String) {
    match id.parse::<u64>() {
        Ok(n) => (0, n, String::new()),
        Err(_) => (1, 0, id.to_string()),
    }
}

fn index(ids: impl Iterator<Item = String>) -> (Vec<String>, HashMap<String, u32>) {
    let mut names: Vec<String> = ids
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .collect();
    names.sort_by_key(|id| id_key(id));
    let map = names
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), i as u32))
        .collect();
    (names, map)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let train = read_pairs(&args.train)?;
    let (user_names, user_idx) = index(train.iter().map(|(u, _)| u.clone()));
    let (item_names, item_idx) = index(train.iter().map(|(_, i)| i.clone()));
    let mut builder = CsrBuilder::with_capacity(train.len());
    for (u, i) in &train {
        builder.push(user_idx[u], item_idx[i], 1.0)?;
    }
    let matrix = builder.build_with_shape(user_names.len(), item_names.len())?;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    let start = Instant::now();
    let model = pool.install(|| fit(&matrix, &args.config, |_| {}))?;
    let fit_s = start.elapsed().as_secs_f64();

    // Popularity order for fills: train count desc, then item index (= id order).
    let mut counts = vec![0usize; item_names.len()];
    for &c in matrix.indices() {
        counts[c as usize] += 1;
    }
    let mut popular: Vec<u32> = (0..item_names.len() as u32).collect();
    popular.sort_by_key(|&i| (std::cmp::Reverse(counts[i as usize]), i));

    let mut targets: Vec<String> = read_pairs(&args.users)?
        .into_iter()
        .map(|(u, _)| u)
        .collect();
    targets.sort_by_key(|id| id_key(id));
    targets.dedup();
    let start = Instant::now();
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&args.out).map_err(|e| format!("{}: {e}", args.out))?,
    );
    writeln!(out, "user_id,item_id,rank")?;
    for user in &targets {
        let (seen, mut recs): (&[u32], Vec<u32>) = match user_idx.get(user) {
            Some(&u) => {
                let seen = matrix.row(u as usize).0;
                (seen, top_unseen(&model, u as usize, seen))
            }
            None => (&[], Vec::new()),
        };
        for &i in &popular {
            if recs.len() >= N {
                break;
            }
            if seen.binary_search(&i).is_err() && !recs.contains(&i) {
                recs.push(i);
            }
        }
        for (rank, i) in recs.iter().enumerate() {
            writeln!(out, "{user},{},{}", item_names[*i as usize], rank + 1)?;
        }
    }
    out.flush()?;
    println!(
        "{{\"peer\": \"recd_als\", \"fit_s\": {fit_s:.4}, \"recommend_s\": {:.4}, \"train_users\": {}, \"train_items\": {}, \"rec_users\": {}}}",
        start.elapsed().as_secs_f64(),
        user_names.len(),
        item_names.len(),
        targets.len()
    );
    Ok(())
}

/// The `N` best-scoring items the user has not seen, best first, ties by lower index.
fn top_unseen(model: &recd_train::als::AlsModel, user: usize, seen: &[u32]) -> Vec<u32> {
    let x = model.user_factors.row(user);
    let mut scored: Vec<(f32, u32)> = (0..model.item_factors.n_rows() as u32)
        .filter(|i| seen.binary_search(i).is_err())
        .map(|i| {
            let y = model.item_factors.row(i as usize);
            (x.iter().zip(y).map(|(a, b)| a * b).sum(), i)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(N).map(|(_, i)| i).collect()
}
