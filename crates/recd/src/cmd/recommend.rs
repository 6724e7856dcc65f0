//! `recd recommend`: batch recommendations for a list of users through the same two-stage
//! pipeline the server uses, written as `user_id,item_id,rank` (the offline protocol's format).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use rayon::prelude::*;
use recd_model::Model;
use recd_model::artifact::{Manifest, registry};
use recd_model::pipeline::{self, UserState};
use recd_serve::recommend::RecommendConfig;

/// Flags of `recd recommend`.
#[derive(Debug, clap::Args)]
pub struct RecommendArgs {
    /// The data dir whose current model is used.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// A CSV file with a `user_id` column (other columns are ignored; duplicates are fine).
    #[arg(long)]
    pub users: PathBuf,
    /// Items per user.
    #[arg(long, default_value_t = 10)]
    pub n: usize,
    /// Output CSV.
    #[arg(long)]
    pub out: PathBuf,
    /// Use this model version instead of the current one.
    #[arg(long)]
    pub model: Option<String>,
}

/// Runs the subcommand.
/// The candidate quotas are the model's own unless `[serve.recommend.candidates]` sets them,
/// as for the server.
pub fn run(args: RecommendArgs, config: RecommendConfig) -> anyhow::Result<()> {
    let models_dir = args.data_dir.join("models");
    let version = match args.model {
        Some(v) => v,
        None => registry::current(&models_dir)?.with_context(|| {
            format!(
                "no current model in {}; run `recd train` first",
                models_dir.display()
            )
        })?,
    };
    let dir = registry::version_dir(&models_dir, &version);
    let model = Model::load(&dir, false).with_context(|| format!("loading model {version}"))?;
    let quotas = match config.candidates {
        Some(quotas) => quotas,
        None => Manifest::read(&dir)?.candidates()?,
    };
    let users = read_user_ids(&args.users)?;
    let lists: Vec<(String, Vec<u32>)> = users
        .par_iter()
        .map(|user| {
            // A user the model has never seen gets the pipeline's cold-start answer.
            let state = model
                .users
                .get(user)
                .map_or_else(UserState::default, |row| UserState::from_model(&model, row));
            let items = pipeline::recommend(&model, &state, &quotas, args.n)
                .into_iter()
                .map(|s| s.item)
                .collect();
            (user.clone(), items)
        })
        .collect();
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, "user_id,item_id,rank")?;
    for (user, items) in &lists {
        for (rank, item) in items.iter().enumerate() {
            writeln!(w, "{user},{},{}", model.items.name(*item), rank + 1)?;
        }
    }
    w.flush()?;
    let known = users
        .iter()
        .filter(|u| model.users.get(u).is_some())
        .count();
    println!(
        "wrote {} recommendations for {} users ({} known to model {version}) to {}",
        lists.iter().map(|(_, l)| l.len()).sum::<usize>(),
        lists.len(),
        known,
        args.out.display()
    );
    Ok(())
}

fn read_user_ids(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let col = reader
        .headers()
        .with_context(|| format!("{}: reading the header", path.display()))?
        .iter()
        .position(|h| h.trim() == "user_id")
        .with_context(|| format!("{}:1: no `user_id` column in the header", path.display()))?;
    let mut users = BTreeSet::new();
    for (k, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("{}:{}: bad CSV row", path.display(), k + 2))?;
        let id = row.get(col).map(str::trim).unwrap_or("");
        anyhow::ensure!(
            !id.is_empty(),
            "{}:{}: field `user_id` is empty",
            path.display(),
            k + 2
        );
        users.insert(id.to_string());
    }
    Ok(users.into_iter().collect())
}
