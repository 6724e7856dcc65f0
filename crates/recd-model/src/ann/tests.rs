//! Recall and filtering of the index on clustered vectors (embeddings are clustered; uniform
//! random vectors are the known hard case for any partitioning index, DEPENDENCIES.md).

use super::*;

/// `n` points around `n_clusters` random centres in `d` dimensions (Box-Muller normals).
fn clustered(n: usize, d: usize, n_clusters: usize, seed: u64) -> Factors {
    let mut rng = seed;
    let mut normal = move || {
        let u1 = ((next(&mut rng) >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (next(&mut rng) >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    };
    let centres: Vec<f32> = (0..n_clusters * d).map(|_| normal()).collect();
    let mut data = Vec::with_capacity(n * d);
    for i in 0..n {
        let c = i % n_clusters;
        for j in 0..d {
            data.push(centres[c * d + j] + 0.35 * normal());
        }
    }
    Factors::from_vec(n, d, data).unwrap()
}

/// Mean recall@10 of `index` against the exact scan of `items`, over the rows of `queries`.
fn held_out_recall(index: &AnnIndex, items: &Factors, queries: &Factors) -> f64 {
    let queries: Vec<&[f32]> = (0..queries.n_rows()).map(|r| queries.row(r)).collect();
    let truth: Vec<_> = queries
        .iter()
        .map(|q| exact(items, q, 10, |_| true))
        .collect();
    mean_recall(&queries, &truth, |q| {
        index.search(items.as_slice(), q, 10, |_| true)
    })
}

#[test]
fn ivf_recall_at_10_is_above_0_95_on_held_out_queries_and_scans_a_fraction() {
    let items = clustered(30_000, 32, 120, 1);
    let users = clustered(400, 32, 120, 2);
    let config = AnnConfig {
        exact_below: 1_000,
        ..AnnConfig::default()
    };
    let index = AnnIndex::build(&items, &users, &config);
    assert_eq!(index.kind(), "ivf");
    // Queries the calibration never saw.
    let recall = held_out_recall(&index, &items, &clustered(300, 32, 120, 3));
    assert!(recall >= 0.95, "recall@10 {recall}");
    let n_lists = (30_000f64).sqrt().round() as usize;
    assert!(
        index.n_probe() < n_lists / 2,
        "probes {} of {n_lists} lists: not an index",
        index.n_probe()
    );
}

#[test]
fn unit_vectors_gain_nothing_from_a_head() {
    // The content index's case: unit vectors, where "the longest vectors" picks 1% of the
    // items by rounding. Without the head, no row is scanned by every query, and the recall
    // on queries the calibration never saw is the head's.
    let unit = |f: Factors| {
        let (n, d) = (f.n_rows(), f.n_factors());
        let mut data = f.as_slice().to_vec();
        for row in data.chunks_exact_mut(d) {
            let norm = dot(row, row).sqrt();
            row.iter_mut().for_each(|x| *x /= norm);
        }
        Factors::from_vec(n, d, data).unwrap()
    };
    let items = unit(clustered(30_000, 32, 120, 5));
    let queries = unit(clustered(300, 32, 120, 6));
    let config = |head_share| AnnConfig {
        exact_below: 1_000,
        head_share,
        ..AnnConfig::default()
    };
    let with_head = AnnIndex::build(&items, &items, &config(0.01));
    let without = AnnIndex::build(&items, &items, &config(0.0));
    assert_eq!(without.ivf.as_ref().map(|ivf| ivf.offsets[0]), Some(0));
    assert_eq!(with_head.ivf.as_ref().map(|ivf| ivf.offsets[0]), Some(300));
    assert_eq!(without.n_probe(), with_head.n_probe());
    let (r_head, r_without) = (
        held_out_recall(&with_head, &items, &queries),
        held_out_recall(&without, &items, &queries),
    );
    assert!(
        r_without >= r_head - 0.01,
        "recall@10 without a head {r_without}, with {r_head}"
    );
}

#[test]
fn small_catalogs_are_searched_exactly_and_filters_apply() {
    let items = clustered(500, 8, 5, 4);
    let index = AnnIndex::build(&items, &items, &AnnConfig::default());
    assert_eq!((index.kind(), index.recall_at_10), ("exact", 1.0));
    let q = items.row(7);
    let all = index.search(items.as_slice(), q, 5, |_| true);
    let brute = top_n((0..500u32).map(|i| (i, dot(q, items.row(i as usize)))), 5);
    assert_eq!(all, brute);
    let odd = index.search(items.as_slice(), q, 5, |i| i % 2 == 1);
    assert!(odd.iter().all(|(i, _)| i % 2 == 1) && odd.len() == 5);
    let ivf = AnnIndex::build(
        &items,
        &items,
        &AnnConfig {
            exact_below: 10,
            ..AnnConfig::default()
        },
    );
    assert_eq!(ivf.kind(), "ivf");
    assert!(
        ivf.search(items.as_slice(), q, 5, |i| i % 2 == 1)
            .iter()
            .all(|(i, _)| i % 2 == 1)
    );
}

#[test]
fn a_saved_index_loads_to_the_same_answers_and_a_mismatched_one_is_refused() {
    let items = clustered(5_000, 16, 40, 4);
    let config = AnnConfig {
        exact_below: 100,
        ..AnnConfig::default()
    };
    let index = AnnIndex::build(&items, &items, &config);
    assert_eq!(index.kind(), "ivf");
    let dir = tempfile::tempdir().unwrap();
    index.save(dir.path(), "als_index").unwrap();
    let loaded = AnnIndex::load(dir.path(), "als_index", items.as_slice(), 16)
        .unwrap()
        .expect("saved index");
    assert_eq!(loaded.n_probe(), index.n_probe());
    assert!((loaded.recall_at_10 - index.recall_at_10).abs() < 1e-9);
    for r in [0, 17, 4_999] {
        let q = items.row(r);
        assert_eq!(
            loaded.search(items.as_slice(), q, 10, |_| true),
            index.search(items.as_slice(), q, 10, |_| true)
        );
    }
    // No index saved under that name: built later, not an error.
    assert!(
        AnnIndex::load(dir.path(), "content_index", items.as_slice(), 16)
            .unwrap()
            .is_none()
    );
    // Vectors of another model (fewer items) do not fit the saved lists.
    let other = clustered(4_000, 16, 40, 5);
    let err = AnnIndex::load(dir.path(), "als_index", other.as_slice(), 16).unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
}

/// ALS vectors of popular items are many times longer than the rest and win most inner
/// products. Clustering raw vectors by L2 hid them in lists the routing ranked last (recall
/// stalled at 0.87 on a 100k-item model until every list was probed); the head and the
/// augmented space must keep recall without scanning everything.
#[test]
fn popularity_skewed_norms_keep_recall_without_a_full_scan() {
    let base = clustered(20_000, 16, 80, 6);
    let mut data = base.as_slice().to_vec();
    // Norms spread over two orders of magnitude, as popularity spreads ALS norms, with a few
    // "blockbusters" far longer than the rest.
    let mut rng = 99u64;
    for (i, row) in data.chunks_exact_mut(16).enumerate() {
        let scale = if i % 400 == 0 {
            30.0
        } else {
            0.05 + 2.0 * ((next(&mut rng) >> 11) as f32 / (1u64 << 53) as f32).powi(3)
        };
        row.iter_mut().for_each(|x| *x *= scale);
    }
    let items = Factors::from_vec(20_000, 16, data).unwrap();
    let users = clustered(400, 16, 80, 7);
    let config = AnnConfig {
        exact_below: 1_000,
        ..AnnConfig::default()
    };
    let index = AnnIndex::build(&items, &users, &config);
    let recall = held_out_recall(&index, &items, &clustered(300, 16, 80, 8));
    assert!(recall >= 0.95, "recall@10 {recall}");
    assert!(
        index.n_probe() < index.n_lists() / 2,
        "probes {} of {} lists: not an index",
        index.n_probe(),
        index.n_lists()
    );
}
