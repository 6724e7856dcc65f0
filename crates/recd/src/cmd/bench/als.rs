//! `recd bench als`: implicit ALS training speed on a synth.py events.csv.
//!
//! Mirrors `shared/bench/peers/als_speed.py` step for step so the two JSON lines compare:
//! load (read + parse + CSR build, summed event weights), then one fit on the same matrix with
//! the same hyper-parameters. `fit_s` covers what implicit's `model.fit()` covers: transpose,
//! random initialisation and all iterations. `--threads` sizes a local rayon pool used for
//! both the load and the fit.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use recd_train::als::{AlsConfig, fit};

use super::{events_csv, proc_stats};

/// Flags of `recd bench als`.
#[derive(Debug, clap::Args)]
pub struct AlsBenchArgs {
    /// events.csv written by shared/bench/synth.py (user_id,item_id,event,timestamp).
    #[arg(long)]
    pub events: PathBuf,
    /// Length of the user and item vectors.
    #[arg(long, default_value_t = 64)]
    pub factors: usize,
    /// ALS iterations (user half + item half each).
    #[arg(long, default_value_t = 15)]
    pub iterations: usize,
    /// λ, the L2 penalty on both sides.
    #[arg(long, default_value_t = 0.05)]
    pub regularization: f32,
    /// α: confidence = α × summed event weight.
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f32,
    /// Threads of the pool used for loading and fitting.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Seed of the random initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Loads, fits and prints one JSON line.
pub fn run(args: AlsBenchArgs) -> anyhow::Result<()> {
    let config = AlsConfig {
        factors: args.factors,
        regularization: args.regularization,
        alpha: args.alpha,
        iterations: args.iterations,
        seed: args.seed,
        ..AlsConfig::default()
    };
    config.validate().context("ALS parameters")?;
    if args.threads == 0 {
        anyhow::bail!("--threads must be at least 1");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .context("starting the thread pool")?;
    pool.install(|| measure(&args, &config))
}

fn measure(args: &AlsBenchArgs, config: &AlsConfig) -> anyhow::Result<()> {
    let cpu0 = proc_stats::cpu_seconds();
    let t0 = Instant::now();
    let loaded = events_csv::load(&args.events)?;
    let t1 = Instant::now();
    let user_items = loaded.triplets.build();
    let t2 = Instant::now();
    let cpu1 = proc_stats::cpu_seconds();

    let mut iteration_s = Vec::with_capacity(config.iterations);
    let model =
        fit(&user_items, config, |stats| iteration_s.push(stats.seconds)).context("fitting ALS")?;
    let fit_s = t2.elapsed().as_secs_f64();
    let cpu2 = proc_stats::cpu_seconds();
    // Keep the model alive until after the measurement (its memory counts in the peak).
    drop(model);

    let cpu_diff = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.3}", b - a),
        _ => "null".to_string(),
    };
    let peak = proc_stats::peak_rss_mb().map_or("null".to_string(), |mb| format!("{mb:.1}"));
    println!(
        concat!(
            "{{\"tool\": \"recd\", \"load_s\": {:.3}, \"read_s\": {:.3}, \"build_s\": {:.3}, ",
            "\"fit_s\": {:.3}, \"load_cpu_s\": {}, \"fit_cpu_s\": {}, \"per_iter_s\": {:.4}, ",
            "\"nnz\": {}, \"users\": {}, \"items\": {}, \"events\": {}, ",
            "\"confidence_sum\": {:?}, \"peak_rss_mb\": {}, \"factors\": {}, ",
            "\"regularization\": {}, \"alpha\": {}, \"iterations\": {}, \"threads\": {}}}"
        ),
        (t2 - t0).as_secs_f64(),
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        fit_s,
        cpu_diff(cpu0, cpu1),
        cpu_diff(cpu1, cpu2),
        median(&mut iteration_s),
        user_items.nnz(),
        user_items.n_rows(),
        user_items.n_cols(),
        loaded.n_events,
        user_items.values_sum(),
        peak,
        config.factors,
        config.regularization,
        config.alpha,
        config.iterations,
        args.threads,
    );
    Ok(())
}

/// Median of the per-iteration times (mean of the middle two for an even count; 0 if none).
fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}
