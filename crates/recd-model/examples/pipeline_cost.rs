//! CPU cost of one personal recommendation, single-threaded, by stage, on a saved model:
//! `cargo run --release -p recd-model --example pipeline_cost -- MODEL_DIR [USERS]`.
//! Stages: user state, candidates (signals, generators, merge, features) and ranker scoring.
//! Used to find what dominates a request before and after changes (see BENCHMARKS.md).

use std::time::{Duration, Instant};

use recd_model::Model;
use recd_model::pipeline::{self, CandidateConfig, Search, UserState};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: pipeline_cost MODEL_DIR [USERS]");
    let users: usize = args.next().map_or(2000, |u| u.parse().expect("USERS"));
    let t = Instant::now();
    let model = Model::load(std::path::Path::new(&dir), false).expect("load");
    eprintln!(
        "loaded {} users x {} items in {:?}",
        model.users.len(),
        model.n_items(),
        t.elapsed()
    );
    let t = Instant::now();
    if std::env::var_os("NO_PREPARE").is_none() {
        model.prepare();
    }
    eprintln!("prepared in {:?}", t.elapsed());
    for (name, ann) in [
        ("als", model.als_index()),
        ("content", model.content_index()),
    ] {
        eprintln!(
            "{name} index: {} n_probe {} recall@10 {:.3}",
            ann.kind(),
            ann.n_probe(),
            ann.recall_at_10
        );
    }
    eprintln!("indexes ready in {:?}", t.elapsed());
    let config = CandidateConfig::default();
    let step = (model.users.len() / users).max(1);
    let (mut t_state, mut t_cand, mut t_rank) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut n, mut n_cands) = (0usize, 0usize);
    for row in (0..model.users.len()).step_by(step).take(users) {
        let t0 = Instant::now();
        let state = UserState::from_model(&model, row as u32);
        let t1 = Instant::now();
        let c = pipeline::candidates_with(&model, &state, &config, Search::Indexed);
        let t2 = Instant::now();
        let logits = model.ranker.score(&c.features);
        let t3 = Instant::now();
        std::hint::black_box(logits);
        t_state += t1 - t0;
        t_cand += t2 - t1;
        t_rank += t3 - t2;
        n += 1;
        n_cands += c.items.len();
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "{{\"users\":{n},\"candidates_mean\":{:.0},\"state_us\":{:.1},\"candidates_us\":{:.1},\"ranker_us\":{:.1},\"total_us\":{:.1},\"ranker\":\"{}\"}}",
        n_cands as f64 / n as f64,
        us(t_state),
        us(t_cand),
        us(t_rank),
        us(t_state + t_cand + t_rank),
        model.ranker.kind
    );
}
