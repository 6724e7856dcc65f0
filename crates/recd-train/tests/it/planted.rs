//! ALS recovers a planted low-rank structure.

use recd_train::als::{AlsConfig, fit};

use crate::fixtures::{planted, top_n};

#[test]
fn als_recovers_planted_groups_and_held_out_items() {
    // 6 groups, 80 users × 40 items each; every user has 16 items of its group, 4 held out.
    let data = planted(6, 80, 40, 16, 4);
    let config = AlsConfig {
        factors: 8,
        regularization: 0.1,
        alpha: 2.0,
        iterations: 10,
        ..AlsConfig::default()
    };
    let model = fit(&data.train, &config, |_| {}).unwrap();

    let n_users = data.train.n_rows();
    let (mut in_group, mut hits, mut total) = (0usize, 0usize, 0usize);
    for user in 0..n_users {
        let recs = top_n(&model, &data.train, user, 10);
        let group = data.group_of_user(user);
        in_group += recs
            .iter()
            .filter(|&&i| data.group_of_item(i) == group)
            .count();
        hits += data.held_out[user]
            .iter()
            .filter(|i| recs.contains(i))
            .count();
        total += data.held_out[user].len();
    }
    let precision_in_group = in_group as f64 / (n_users * 10) as f64;
    let recall = hits as f64 / total as f64;
    // Chance: 28 unseen in-group items of 228 unseen items -> precision 0.12, and 10 random
    // picks of 228 find a held-out item with probability 10/228 = 0.044.
    assert!(
        precision_in_group > 0.95,
        "in-group precision {precision_in_group}"
    );
    // The best any model can do without more signal is 10/28 = 0.36 (held-out items look
    // like any other unseen item of the group); require most of it.
    assert!(recall > 0.25, "held-out recall@10 {recall}");
}
