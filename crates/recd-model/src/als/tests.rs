//! Tests of the row solve against a dense reference solve in f64.

use super::*;

/// A deterministic pseudo-random factor matrix (no RNG crate needed for a fixture).
fn factors(n_rows: usize, k: usize, seed: u64) -> Factors {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let data = (0..n_rows * k)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.5
        })
        .collect();
    Factors::from_vec(n_rows, k, data).unwrap()
}

/// Builds A = YᵀY + λI + Σ (c−1) y yᵀ and b = Σ c·p·y in f64 and solves by Gaussian
/// elimination: the textbook definition the CG solve must agree with.
fn reference_solve(
    y: &Factors,
    lambda: f64,
    alpha: f64,
    items: &[u32],
    values: &[f32],
) -> Vec<f64> {
    let k = y.n_factors();
    let mut a = vec![vec![0.0f64; k + 1]; k];
    for r in 0..y.n_rows() {
        let row = y.row(r);
        for i in 0..k {
            for j in 0..k {
                a[i][j] += f64::from(row[i]) * f64::from(row[j]);
            }
        }
    }
    for (i, a_row) in a.iter_mut().enumerate() {
        a_row[i] += lambda;
    }
    for (&item, &value) in items.iter().zip(values) {
        let conf = alpha * f64::from(value);
        let (target, weight) = if conf > 0.0 {
            (conf, conf - 1.0)
        } else {
            (0.0, -conf - 1.0)
        };
        let row = y.row(item as usize);
        for i in 0..k {
            for j in 0..k {
                a[i][j] += weight * f64::from(row[i]) * f64::from(row[j]);
            }
            a[i][k] += target * f64::from(row[i]);
        }
    }
    for col in 0..k {
        let pivot = (col..k)
            .max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))
            .unwrap();
        a.swap(col, pivot);
        for row in 0..k {
            if row != col {
                let f = a[row][col] / a[col][col];
                let pivot_row = a[col].clone();
                for (v, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                    *v -= f * p;
                }
            }
        }
    }
    (0..k).map(|i| a[i][k] / a[i][i]).collect()
}

fn check_fold_in(k: usize, alpha: f32, items: &[u32], values: &[f32]) {
    let y = factors(200, k, 7);
    let lambda = 0.1;
    let gram = Gram::compute(&y, lambda).unwrap();
    let got = fold_in(&y, &gram, items, values, alpha).unwrap();
    let want = reference_solve(&y, f64::from(lambda), f64::from(alpha), items, values);
    let scale = want.iter().map(|v| v.abs()).fold(0.0, f64::max);
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (f64::from(*g) - w).abs() <= 1e-3 * scale.max(1e-3),
            "k={k}: got {got:?}, want {want:?}"
        );
    }
}

#[test]
fn fold_in_matches_a_dense_solve() {
    check_fold_in(8, 1.0, &[0, 5, 9], &[1.0, 1.0, 1.0]);
    check_fold_in(64, 1.0, &[3, 17, 42, 199], &[1.0, 3.0, 9.0, 2.0]);
    check_fold_in(
        40,
        2.5,
        &[1, 2, 3, 4, 5, 6],
        &[1.0, 2.0, 4.0, 8.0, 1.0, 15.0],
    );
}

#[test]
fn negative_values_are_confident_dislikes() {
    check_fold_in(16, 1.0, &[1, 2, 3], &[4.0, -6.0, 1.0]);
}

#[test]
fn no_interactions_give_the_zero_vector() {
    let y = factors(10, 8, 1);
    let gram = Gram::compute(&y, 0.1).unwrap();
    assert_eq!(fold_in(&y, &gram, &[], &[], 1.0).unwrap(), vec![0.0; 8]);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let y = factors(10, 8, 1);
    let gram = Gram::compute(&y, 0.1).unwrap();
    assert_eq!(
        fold_in(&y, &gram, &[10], &[1.0], 1.0),
        Err(ModelError::ItemOutOfRange {
            index: 10,
            n_items: 10
        })
    );
    assert!(matches!(
        fold_in(&y, &gram, &[1], &[], 1.0),
        Err(ModelError::Shape(_))
    ));
    assert!(matches!(
        fold_in(&y, &gram, &[1], &[f32::NAN], 1.0),
        Err(ModelError::InvalidValue { field: "value", .. })
    ));
    assert!(matches!(
        fold_in(&y, &gram, &[1], &[1.0], 0.0),
        Err(ModelError::InvalidValue { field: "alpha", .. })
    ));
    let other_k = Gram::compute(&factors(10, 4, 1), 0.1).unwrap();
    assert!(matches!(
        fold_in(&y, &other_k, &[1], &[1.0], 1.0),
        Err(ModelError::Shape(_))
    ));
    assert!(Factors::from_vec(2, 3, vec![0.0; 5]).is_err());
    assert!(Factors::from_vec(1, 2, vec![0.0, f32::INFINITY]).is_err());
    assert!(Gram::from_yty(2, vec![0.0; 4], -1.0).is_err());
}

#[test]
fn gram_matches_a_naive_product() {
    let y = factors(37, 5, 3);
    let gram = Gram::compute(&y, 0.5).unwrap();
    for i in 0..5 {
        for j in 0..5 {
            let naive: f32 = (0..37).map(|r| y.row(r)[i] * y.row(r)[j]).sum::<f32>()
                + if i == j { 0.5 } else { 0.0 };
            assert!((gram.as_slice()[i * 5 + j] - naive).abs() < 1e-4);
        }
    }
}

#[test]
fn three_warm_steps_reduce_the_row_loss() {
    let (k, alpha) = (32, 1.0);
    let y = factors(300, k, 11);
    let gram = Gram::compute(&y, 0.05).unwrap();
    let solver = RowSolver::new(&gram, &y, alpha, 3).unwrap();
    let items: Vec<u32> = (0..60).map(|i| i * 5).collect();
    let values: Vec<f32> = (0..60).map(|i| 1.0 + (i % 4) as f32).collect();
    let mut x = vec![0.01f32; k];
    let mut scratch = CgScratch::new();
    let mut last = solver.row_loss(&items, &values, &x);
    for _ in 0..4 {
        solver.solve(&items, &values, &mut x, &mut scratch);
        let now = solver.row_loss(&items, &values, &x);
        assert!(now <= last + 1e-6, "loss went up: {last} -> {now}");
        last = now;
    }
    let exact = fold_in(&y, &gram, &items, &values, alpha).unwrap();
    assert!(solver.row_loss(&items, &values, &exact) <= last + 1e-4);
}

#[test]
fn portable_and_simd_builds_agree() {
    let k = 64;
    let y = factors(500, k, 5);
    let gram = Gram::compute(&y, 0.05).unwrap();
    let fast = RowSolver::new(&gram, &y, 1.0, 3).unwrap();
    let portable = fast.with_portable_kernels();
    let items: Vec<u32> = (0..120).map(|i| i * 4 + 1).collect();
    let values: Vec<f32> = (0..120).map(|i| [1.0, 1.0, 3.0, 9.0][i % 4]).collect();
    let (mut a, mut b) = (vec![0.003f32; k], vec![0.003f32; k]);
    fast.solve(&items, &values, &mut a, &mut CgScratch::new());
    portable.solve(&items, &values, &mut b, &mut CgScratch::new());
    let norm = a.iter().map(|v| v * v).sum::<f32>().sqrt();
    for (x, z) in a.iter().zip(&b) {
        assert!((x - z).abs() <= 1e-4 * norm, "{a:?} vs {b:?}");
    }
}
