//! Behaviour of the fit: loss goes down, runs are reproducible, fold-in agrees with training.

use recd_model::als::{Gram, fold_in};
use recd_train::als::{AlsConfig, fit};

use crate::fixtures::planted;

fn config() -> AlsConfig {
    AlsConfig {
        factors: 12,
        regularization: 0.1,
        alpha: 2.0,
        iterations: 8,
        seed: 42,
        ..AlsConfig::default()
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

#[test]
fn loss_decreases_over_iterations() {
    let data = planted(5, 60, 30, 12, 2);
    let mut losses = Vec::new();
    let config = AlsConfig {
        calculate_loss: true,
        ..config()
    };
    fit(&data.train, &config, |s| losses.push(s.loss.unwrap())).unwrap();
    assert_eq!(losses.len(), 8);
    for pair in losses.windows(2) {
        assert!(
            pair[1] <= pair[0] * (1.0 + 1e-4),
            "loss went up: {losses:?}"
        );
    }
    assert!(losses[7] < losses[0] * 0.9, "loss barely moved: {losses:?}");
}

#[test]
fn a_fixed_seed_gives_identical_models_for_any_thread_count() {
    let data = planted(4, 50, 25, 10, 2);
    let one = pool(1).install(|| fit(&data.train, &config(), |_| {}).unwrap());
    let again = pool(1).install(|| fit(&data.train, &config(), |_| {}).unwrap());
    let two = pool(2).install(|| fit(&data.train, &config(), |_| {}).unwrap());
    assert_eq!(one, again);
    assert_eq!(one, two);
    let other_seed = AlsConfig {
        seed: 43,
        ..config()
    };
    let different = pool(1).install(|| fit(&data.train, &other_seed, |_| {}).unwrap());
    assert_ne!(one, different);
}

#[test]
fn fold_in_of_a_training_row_gives_nearly_the_trained_vector() {
    let data = planted(5, 60, 30, 12, 2);
    let config = AlsConfig {
        iterations: 40,
        ..config()
    };
    let model = fit(&data.train, &config, |_| {}).unwrap();
    let gram = Gram::compute(&model.item_factors, config.regularization).unwrap();
    let mut worst = 0.0f64;
    for user in (0..data.train.n_rows()).step_by(7) {
        let (items, values) = data.train.row(user);
        let folded = fold_in(&model.item_factors, &gram, items, values, config.alpha).unwrap();
        let trained = model.user_factors.row(user);
        let diff: f64 = folded
            .iter()
            .zip(trained)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        let norm: f64 = trained
            .iter()
            .map(|&v| f64::from(v).powi(2))
            .sum::<f64>()
            .sqrt();
        worst = worst.max(diff / norm);
    }
    assert!(worst < 0.02, "relative distance up to {worst}");
}

#[test]
fn bad_parameters_are_errors() {
    let data = planted(2, 5, 5, 3, 1);
    for bad in [
        AlsConfig {
            factors: 0,
            ..config()
        },
        AlsConfig {
            alpha: f32::NAN,
            ..config()
        },
        AlsConfig {
            regularization: -1.0,
            ..config()
        },
        AlsConfig {
            cg_steps: 0,
            ..config()
        },
    ] {
        assert!(fit(&data.train, &bad, |_| {}).is_err(), "{bad:?}");
    }
}
