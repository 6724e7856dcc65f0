//! `recd bench ann`: recall@10 and single-thread query speed of the nearest-neighbour index
//! on a trained model's vectors, next to `shared/bench/peers/ann_hnswlib.py`.
//!
//! Writes the item vectors and a sample of query vectors as float32 `.npy` files (the peer's
//! input), then builds recd's IVF index over the items (forced, whatever the catalog size),
//! and for each `n_probe` of a sweep prints one JSON line with the peer script's keys:
//! `recall@10` against an exact scan, `qps_1thread`, `p50_us`, `p99_us`, one query at a time as
//! a request would run it. A last line measures the exact scan itself.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use recd_model::Model;
use recd_model::als::Factors;
use recd_model::ann::{AnnConfig, AnnIndex, exact, mean_recall};

/// Flags of `recd bench ann`.
#[derive(Debug, clap::Args)]
pub struct AnnBenchArgs {
    /// A model version directory (`DATA_DIR/models/<version>`).
    #[arg(long)]
    pub model: PathBuf,
    /// Which vectors: `als` (item factors, queried by user factors) or `content` (item content
    /// vectors, queried by other items' content vectors).
    #[arg(long, default_value = "als")]
    pub vectors: String,
    /// Where to write items.npy and queries.npy.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of query vectors (evenly spaced rows).
    #[arg(long, default_value_t = 1000)]
    pub queries: usize,
}

/// Exports the vectors, sweeps the index and prints one JSON line per setting.
pub fn run(args: AnnBenchArgs) -> anyhow::Result<()> {
    let model = Model::load(&args.model, false)
        .with_context(|| format!("loading the model in {}", args.model.display()))?;
    let (items, queries_from) = match args.vectors.as_str() {
        "als" => (model.item_factors.clone(), model.user_factors.clone()),
        "content" => {
            let c = Factors::from_vec(model.n_items(), model.encoder.dim, model.content.clone())?;
            (c.clone(), c)
        }
        other => anyhow::bail!("--vectors: expected als or content, got {other:?}"),
    };
    if queries_from.n_rows() == 0 || items.n_rows() == 0 {
        anyhow::bail!("the model has no {} vectors", args.vectors);
    }
    let step = (queries_from.n_rows() / args.queries.max(1)).max(1);
    let rows: Vec<usize> = (0..queries_from.n_rows())
        .step_by(step)
        .take(args.queries)
        .collect();
    let d = items.n_factors();
    let mut queries = Vec::with_capacity(rows.len() * d);
    for &r in &rows {
        queries.extend_from_slice(queries_from.row(r));
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    write_npy(
        &args.out.join("items.npy"),
        items.n_rows(),
        d,
        items.as_slice(),
    )?;
    write_npy(&args.out.join("queries.npy"), rows.len(), d, &queries)?;
    let qs: Vec<&[f32]> = queries.chunks_exact(d).collect();
    let truth: Vec<Vec<(u32, f32)>> = qs.iter().map(|q| exact(&items, q, 10, |_| true)).collect();

    let t = Instant::now();
    let config = AnnConfig {
        exact_below: 0,
        ..AnnConfig::default()
    };
    let mut index = AnnIndex::build(&items, &queries_from, &config);
    let build_s = t.elapsed().as_secs_f64();
    let calibrated = index.n_probe();
    let n_lists = index.n_lists();
    let mut probes: Vec<usize> = std::iter::successors(Some(1usize), |p| Some(p * 2))
        .take_while(|&p| p < n_lists)
        .chain([calibrated, n_lists])
        .collect();
    probes.sort_unstable();
    probes.dedup();
    let base = serde_json::json!({
        "n": items.n_rows(), "d": d, "q": qs.len(), "vectors": args.vectors,
    });
    for p in probes {
        index.set_n_probe(p);
        let search = |q: &[f32]| index.search(items.as_slice(), q, 10, |_| true);
        let (qps, p50, p99) = timed(&qs, search);
        let recall = mean_recall(&qs, &truth, search);
        let mut line = base.clone();
        let extra = serde_json::json!({
            "peer": "recd-ivf", "n_lists": n_lists, "n_probe": p,
            "calibrated": p == calibrated, "build_s": round(build_s, 3),
            "recall@10": round(recall, 4), "qps_1thread": round(qps, 1),
            "p50_us": round(p50, 1), "p99_us": round(p99, 1),
        });
        merge(&mut line, extra);
        println!("{line}");
    }
    let (qps, p50, p99) = timed(&qs, |q| exact(&items, q, 10, |_| true));
    let mut line = base;
    merge(
        &mut line,
        serde_json::json!({
            "peer": "recd-exact", "recall@10": 1.0, "qps_1thread": round(qps, 1),
            "p50_us": round(p50, 1), "p99_us": round(p99, 1),
        }),
    );
    println!("{line}");
    Ok(())
}

/// Queries one at a time: (queries per second, p50 µs, p99 µs).
fn timed(qs: &[&[f32]], search: impl Fn(&[f32]) -> Vec<(u32, f32)>) -> (f64, f64, f64) {
    let mut lat: Vec<f64> = qs
        .iter()
        .map(|q| {
            let t = Instant::now();
            std::hint::black_box(search(q));
            t.elapsed().as_secs_f64()
        })
        .collect();
    let total: f64 = lat.iter().sum();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize] * 1e6;
    (qs.len() as f64 / total.max(1e-12), pct(0.5), pct(0.99))
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    if let (Some(a), serde_json::Value::Object(b)) = (into.as_object_mut(), from) {
        a.extend(b);
    }
}

/// Writes a C-order float32 `.npy` (format 1.0: magic, header length, a Python dict literal
/// padded with spaces to a 64-byte boundary, then the little-endian data).
fn write_npy(path: &Path, rows: usize, cols: usize, data: &[f32]) -> anyhow::Result<()> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&out))
        .with_context(|| format!("writing {}", path.display()))
}
