//! CPU cost of one personal recommendation, single-threaded, by stage, on a saved model:
//! `cargo run --release -p recd-model --example pipeline_cost -- MODEL_DIR [USERS]`.
//! Stages: user state, candidates (signals, generators, merge, features; the signals are also
//! timed alone) and ranking
//! (`pipeline::ranked`: the cascade of the default `rerank`, or `RERANK=k`; 0 = the ranker
//! over every candidate). `CANDIDATES='{"content":0}'` changes the quotas (JSON).
//! Used to find what dominates a request before and after changes (see BENCHMARKS.md).
//! Also prints the content index's recall@10 on the queries it really gets, users' content
//! profiles (training calibrates it on item vectors).

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
    // `CANDIDATES='{"content":0}'`: quotas other than the defaults (JSON, missing fields default).
    let config: CandidateConfig = match std::env::var("CANDIDATES") {
        Ok(j) => serde_json::from_str(&j).expect("CANDIDATES: a JSON CandidateConfig"),
        Err(_) => CandidateConfig::default(),
    };
    let step = (model.users.len() / users).max(1);
    let (mut t_state, mut t_cand, mut t_rank) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut t_signals, mut t_content, mut t_als) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut n, mut n_cands, mut n_updates, mut n_hist) = (0usize, 0usize, 0usize, 0usize);
    for row in (0..model.users.len()).step_by(step).take(users) {
        let t0 = Instant::now();
        let state = UserState::from_model(&model, row as u32);
        // The item-kNN signal's work: one update per reverse neighbour of each recent positive.
        let recent = state.history.iter().rev().filter(|(_, w)| *w > 0.0);
        for &(j, _) in recent.take(model.params.history_len) {
            n_hist += 1;
            n_updates += model.neighbors_rev.row(j as usize).0.len();
        }
        let t1 = Instant::now();
        t_state += t1 - t0;
        // The signals alone (the candidate stage below computes them again), then the two
        // index searches alone with the generators' quotas (and no exclusions).
        let signals = pipeline::signals::Signals::compute(&model, &state);
        t_signals += t1.elapsed();
        if !signals.profile.is_empty() && config.content > 0 {
            let t = Instant::now();
            let index = model.content_index();
            std::hint::black_box(index.search(
                &model.content,
                &signals.profile,
                config.content,
                |_| true,
            ));
            t_content += t.elapsed();
        }
        drop(signals);
        if let Some(v) = &state.vector {
            let t = Instant::now();
            let index = model.als_index();
            std::hint::black_box(index.search(
                model.item_factors.as_slice(),
                v,
                config.als,
                |_| true,
            ));
            t_als += t.elapsed();
        }
        let t1 = Instant::now();
        let c = pipeline::candidates_with(&model, &state, &config, Search::Indexed);
        let t2 = Instant::now();
        // As the server ranks 20 results: the cascade's head is max(rerank, 4 × 20).
        let rerank = match std::env::var("RERANK") {
            Ok(k) => k.parse().expect("RERANK"),
            Err(_) => config.rerank,
        };
        let head = if rerank == 0 {
            usize::MAX
        } else {
            rerank.max(80)
        };
        let order = pipeline::ranked(&model, &c, rerank, head);
        let t3 = Instant::now();
        std::hint::black_box(order);
        t_cand += t2 - t1;
        t_rank += t3 - t2;
        n += 1;
        n_cands += c.items.len();
    }
    content_recall(&model, step, users.min(500));
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "{{\"users\":{n},\"candidates_mean\":{:.0},\"history_mean\":{:.1},\"knn_updates_mean\":{:.0},\"state_us\":{:.1},\"candidates_us\":{:.1},\"signals_us\":{:.1},\"content_search_us\":{:.1},\"als_search_us\":{:.1},\"ranker_us\":{:.1},\"total_us\":{:.1},\"ranker\":\"{}\"}}",
        n_cands as f64 / n as f64,
        n_hist as f64 / n as f64,
        n_updates as f64 / n as f64,
        us(t_state),
        us(t_cand),
        us(t_signals),
        us(t_content),
        us(t_als),
        us(t_rank),
        us(t_state + t_cand + t_rank),
        model.ranker.kind
    );
}

/// Recall@10 of the content index against the exact scan, on the content profiles of
/// `users` users (every `step`-th row), printed to stderr.
fn content_recall(model: &Model, step: usize, users: usize) {
    let index = model.content_index();
    let Ok(items) = recd_model::als::Factors::from_vec(
        model.n_items(),
        model.encoder.dim,
        model.content.clone(),
    ) else {
        return;
    };
    let profiles: Vec<Vec<f32>> = (0..model.users.len())
        .step_by(step)
        .take(users)
        .map(|row| {
            let state = UserState::from_model(model, row as u32);
            pipeline::signals::Signals::compute(model, &state)
                .profile
                .clone()
        })
        .filter(|p| !p.is_empty())
        .collect();
    let queries: Vec<&[f32]> = profiles.iter().map(Vec::as_slice).collect();
    let truth: Vec<Vec<(u32, f32)>> = queries
        .iter()
        .map(|q| recd_model::ann::exact(&items, q, 10, |_| true))
        .collect();
    let recall = recd_model::ann::mean_recall(&queries, &truth, |q| {
        index.search(&model.content, q, 10, |_| true)
    });
    eprintln!(
        "content index recall@10 on {} users' content profiles: {recall:.3} (at calibration: {:.3})",
        queries.len(),
        index.recall_at_10
    );
}
