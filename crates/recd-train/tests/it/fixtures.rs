//! Planted low-rank interaction data: users and items in G groups, users interact only
//! with items of their own group, so a rank-G model explains everything.

use recd_train::{Csr, CsrBuilder};

/// A small deterministic generator (an LCG), so fixtures need no RNG crate and never change.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn below(&mut self, n: u32) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % u64::from(n)) as u32
    }
}

/// Planted data, split into train and held-out positives.
pub struct Planted {
    pub n_groups: u32,
    pub items_per_group: u32,
    pub train: Csr,
    /// Per user: held-out items (all from the user's group, none in train).
    pub held_out: Vec<Vec<u32>>,
}

impl Planted {
    pub fn group_of_user(&self, user: usize) -> u32 {
        user as u32 % self.n_groups
    }

    pub fn group_of_item(&self, item: u32) -> u32 {
        item / self.items_per_group
    }
}

/// `users_per_group` users per group each touch `per_user` distinct items of their group
/// (with value 1..=3), `held` of which are held out.
pub fn planted(
    n_groups: u32,
    users_per_group: u32,
    items_per_group: u32,
    per_user: u32,
    held: u32,
) -> Planted {
    let mut rng = Lcg::new(7);
    let n_users = n_groups * users_per_group;
    let mut builder = CsrBuilder::new();
    let mut held_out = Vec::new();
    for user in 0..n_users {
        let group = user % n_groups;
        let mut chosen: Vec<u32> = Vec::new();
        while chosen.len() < per_user as usize {
            let item = group * items_per_group + rng.below(items_per_group);
            if !chosen.contains(&item) {
                chosen.push(item);
            }
        }
        let (held_items, train_items) = chosen.split_at(held as usize);
        for &item in train_items {
            builder.push(user, item, 1.0 + rng.below(3) as f32).unwrap();
        }
        held_out.push(held_items.to_vec());
    }
    let train = builder
        .build_with_shape(n_users as usize, (n_groups * items_per_group) as usize)
        .unwrap();
    Planted {
        n_groups,
        items_per_group,
        train,
        held_out,
    }
}

/// Top `n` items by score for `user`, excluding items the user has in train.
pub fn top_n(model: &recd_train::als::AlsModel, train: &Csr, user: usize, n: usize) -> Vec<u32> {
    let x = model.user_factors.row(user);
    let (seen, _) = train.row(user);
    let mut scored: Vec<(f32, u32)> = (0..model.item_factors.n_rows() as u32)
        .filter(|i| seen.binary_search(i).is_err())
        .map(|i| {
            let y = model.item_factors.row(i as usize);
            (x.iter().zip(y).map(|(a, b)| a * b).sum(), i)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(n).map(|(_, i)| i).collect()
}
