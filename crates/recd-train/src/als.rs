//! Implicit ALS training (Hu, Koren & Volinsky 2008), as `implicit` 0.7's CPU solver with
//! `use_cg=True`: f32 factors initialised uniform in [0, 0.01), each iteration solves every
//! user against the items and then every item against the users, each row by 3 warm-started
//! conjugate-gradient steps, with confidence c = α·value and λ on both sides.
//!
//! Parallelism: rows of a half-step are independent (each reads the fixed side and writes
//! its own vector), so they are spread over the current rayon pool with per-thread scratch;
//! the Gram matrix GEMM is split into a fixed number of row blocks summed in order. Nothing
//! depends on scheduling, so a fit is bit-for-bit reproducible for a given seed and CPU,
//! whatever the thread count.

use std::cell::RefCell;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use recd_model::als::{CgScratch, Factors, Gram, RowSolver, accumulate_yty};

use crate::{Csr, TrainError};

/// Hyper-parameters of a fit. Defaults follow `implicit` except `factors` (64, not 100).
#[derive(Debug, Clone, PartialEq)]
pub struct AlsConfig {
    /// Length of each user and item vector, k.
    pub factors: usize,
    /// λ, the L2 penalty on both sides.
    pub regularization: f32,
    /// α: confidence is α × the stored value.
    pub alpha: f32,
    /// Number of (user half, item half) iterations.
    pub iterations: usize,
    /// CG steps per row per half-step (3 in `implicit`).
    pub cg_steps: usize,
    /// Seed of the random initialisation.
    pub seed: u64,
    /// Compute the training loss after every iteration (costs about one extra half-step).
    pub calculate_loss: bool,
}

impl Default for AlsConfig {
    fn default() -> Self {
        Self {
            factors: 64,
            regularization: 0.01,
            alpha: 1.0,
            iterations: 15,
            cg_steps: 3,
            seed: 0,
            calculate_loss: false,
        }
    }
}

impl AlsConfig {
    /// Checks every parameter's domain; the error names the parameter.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.factors == 0 || self.factors > 4096 {
            return Err(TrainError::invalid("factors", "must be in 1..=4096"));
        }
        if !(self.regularization.is_finite() && self.regularization >= 0.0) {
            return Err(TrainError::invalid(
                "regularization",
                "must be finite and >= 0",
            ));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(TrainError::invalid("alpha", "must be finite and > 0"));
        }
        if self.cg_steps == 0 {
            return Err(TrainError::invalid("cg_steps", "must be at least 1"));
        }
        Ok(())
    }
}

/// A fitted model: one vector per user row and per item column of the training matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct AlsModel {
    /// One row per user (row of the training matrix).
    pub user_factors: Factors,
    /// One row per item (column of the training matrix).
    pub item_factors: Factors,
}

/// What [`fit`] reports after each iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct IterationStats {
    /// 0-based iteration number.
    pub iteration: usize,
    /// Wall time of the iteration (both halves), seconds.
    pub seconds: f64,
    /// Training loss normalised as `implicit` does, if [`AlsConfig::calculate_loss`].
    pub loss: Option<f64>,
}

/// Fits ALS on a user × item matrix of stored values (e.g. summed event weights), on the
/// current rayon pool, calling `on_iteration` after each iteration. The transpose and the
/// random initialisation are part of the fit, as in `implicit`, so fit times compare.
pub fn fit(
    user_items: &Csr,
    config: &AlsConfig,
    mut on_iteration: impl FnMut(&IterationStats),
) -> Result<AlsModel, TrainError> {
    config.validate()?;
    let item_users = user_items.transpose();
    let k = config.factors;
    let mut user_factors = random_factors(user_items.n_rows(), k, config.seed, 0);
    let mut item_factors = random_factors(user_items.n_cols(), k, config.seed, 1);
    for iteration in 0..config.iterations {
        let start = Instant::now();
        half_step(user_items, &mut user_factors, &item_factors, config)?;
        half_step(&item_users, &mut item_factors, &user_factors, config)?;
        let seconds = start.elapsed().as_secs_f64();
        let loss = if config.calculate_loss {
            Some(loss(user_items, &user_factors, &item_factors, config)?)
        } else {
            None
        };
        tracing::debug!(iteration, seconds, ?loss, "als iteration");
        on_iteration(&IterationStats {
            iteration,
            seconds,
            loss,
        });
    }
    Ok(AlsModel {
        user_factors,
        item_factors,
    })
}

/// The training objective of `implicit`'s `calculate_loss`:
/// (Σ_u,i c_ui (p_ui − x_u·y_i)² + λ(‖X‖² + ‖Y‖²)) / (Σ c_ui + n_users·n_items − nnz).
pub fn loss(
    user_items: &Csr,
    user_factors: &Factors,
    item_factors: &Factors,
    config: &AlsConfig,
) -> Result<f64, TrainError> {
    let gram = parallel_gram(item_factors, config.regularization)?;
    let solver = RowSolver::new(&gram, item_factors, config.alpha, config.cg_steps)?;
    // Per-row terms collected in order and summed sequentially: reproducible.
    let rows: Vec<f64> = (0..user_items.n_rows())
        .into_par_iter()
        .map(|row| {
            let (cols, values) = user_items.row(row);
            solver.row_loss(cols, values, user_factors.row(row))
        })
        .collect();
    let item_norm: f64 = item_factors
        .as_slice()
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum();
    let total_confidence: f64 = user_items
        .values()
        .iter()
        .map(|&v| f64::from(config.alpha * v).abs())
        .sum();
    let n_cells = user_items.n_rows() as f64 * user_items.n_cols() as f64;
    let loss = rows.iter().sum::<f64>() + f64::from(config.regularization) * item_norm;
    Ok(loss / (total_confidence + n_cells - user_items.nnz() as f64))
}

/// Rows per rayon task: enough to amortise task overhead, small enough that a heavy-tailed
/// block of rows does not leave the other threads idle at the end of a half-step.
const ROWS_PER_TASK: usize = 64;

thread_local! {
    /// Each pool thread keeps its CG scratch for the whole fit: a scratch made per rayon job
    /// (`for_each_init`) regrew its gather buffer (up to 16 MiB) thousands of times per
    /// half-step, and the kernel's page zeroing showed up in profiles.
    static SCRATCH: RefCell<CgScratch> = RefCell::new(CgScratch::new());
}

/// Solves every row of `rows` (one per vector of `solve`) against the fixed side.
fn half_step(
    rows: &Csr,
    solve: &mut Factors,
    fixed: &Factors,
    config: &AlsConfig,
) -> Result<(), TrainError> {
    let gram = parallel_gram(fixed, config.regularization)?;
    let solver = RowSolver::new(&gram, fixed, config.alpha, config.cg_steps)?;
    let k = solve.n_factors();
    solve
        .as_mut_slice()
        .par_chunks_mut(k)
        .enumerate()
        .with_min_len(ROWS_PER_TASK)
        .for_each(|(row, x)| {
            let (cols, values) = rows.row(row);
            SCRATCH.with(|scratch| solver.solve(cols, values, x, &mut scratch.borrow_mut()));
        });
    Ok(())
}

/// Blocks the YᵀY GEMM is split into; fixed (not the thread count) so the summation order,
/// and with it every bit of the result, does not depend on the pool size.
const GRAM_BLOCKS: usize = 8;

/// YᵀY + λI with the GEMM spread over the pool.
fn parallel_gram(factors: &Factors, regularization: f32) -> Result<Gram, TrainError> {
    let k = factors.n_factors();
    let rows_per_block = factors.n_rows().div_ceil(GRAM_BLOCKS).max(1);
    let partials: Vec<Result<Vec<f32>, TrainError>> = factors
        .as_slice()
        .par_chunks(rows_per_block * k)
        .map(|block| {
            let mut out = vec![0.0f32; k * k];
            accumulate_yty(block, k, &mut out)?;
            Ok(out)
        })
        .collect();
    let mut yty = vec![0.0f32; k * k];
    for partial in partials {
        for (sum, v) in yty.iter_mut().zip(partial?) {
            *sum += v;
        }
    }
    Ok(Gram::from_yty(k, yty, regularization)?)
}

/// Rows per independently seeded block of the initialisation, so it can run in parallel
/// and still give the same numbers for any thread count.
const INIT_BLOCK_ROWS: usize = 4096;

/// Uniform [0, 0.01) factors like `implicit` (which draws from numpy; the distribution is
/// the same, the numbers are not). `side` separates the user and item streams.
fn random_factors(n_rows: usize, k: usize, seed: u64, side: u64) -> Factors {
    let mut data = vec![0.0f32; n_rows * k];
    data.par_chunks_mut(INIT_BLOCK_ROWS * k)
        .enumerate()
        .for_each(|(block, chunk)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(side << 40 | block as u64);
            for v in chunk {
                *v = rng.random::<f32>() * 0.01;
            }
        });
    Factors::from_vec(n_rows, k, data).expect("n_rows * k values, all finite")
}
