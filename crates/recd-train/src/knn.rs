//! Item-to-item collaborative filtering (Linden, Smith & York 2003): cosine similarity over
//! co-occurrence in users' histories, top-k neighbours per item.
//!
//! The co-occurrence counts are a sparse product XᵀX computed item by item: for item i, walk
//! its users and their items into a dense per-thread accumulator. The cost is Σ_u n_u², so
//! each user contributes only their newest `max_items_per_user` items.

use rayon::prelude::*;
use recd_model::csr::Csr;
use recd_model::pipeline::top_n;

use crate::build::Pair;
use crate::config::ItemKnnParams;

/// The top-k neighbour lists `(j, cosine)` of every item, best first.
pub fn build(pairs: &[Vec<Pair>], n_items: usize, params: &ItemKnnParams) -> Csr {
    // user -> their (newest) positive items; item -> its users.
    let user_items: Vec<Vec<u32>> = pairs
        .iter()
        .map(|list| {
            let pos: Vec<u32> = list
                .iter()
                .filter(|p| !p.negative)
                .map(|p| p.item)
                .collect();
            let skip = pos.len().saturating_sub(params.max_items_per_user);
            pos[skip..].to_vec()
        })
        .collect();
    let mut item_users: Vec<Vec<u32>> = vec![Vec::new(); n_items];
    for (u, items) in user_items.iter().enumerate() {
        for &i in items {
            item_users[i as usize].push(u as u32);
        }
    }
    let norms: Vec<f32> = item_users
        .iter()
        .map(|us| (us.len() as f32).sqrt())
        .collect();
    let rows: Vec<Vec<(u32, f32)>> = (0..n_items)
        .into_par_iter()
        .map_init(
            || (vec![0f32; n_items], Vec::<u32>::new()),
            |(acc, touched), i| {
                for &u in &item_users[i] {
                    for &j in &user_items[u as usize] {
                        if j as usize != i {
                            if acc[j as usize] == 0.0 {
                                touched.push(j);
                            }
                            acc[j as usize] += 1.0;
                        }
                    }
                }
                let scored = touched.iter().map(|&j| {
                    let sim = acc[j as usize] / (norms[i] * norms[j as usize] + params.shrinkage);
                    (j, sim)
                });
                let top = top_n(scored, params.k);
                for &j in touched.iter() {
                    acc[j as usize] = 0.0;
                }
                touched.clear();
                top
            },
        )
        .collect();
    Csr::from_rows(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(users: &[&[u32]]) -> Vec<Vec<Pair>> {
        users
            .iter()
            .map(|items| {
                items
                    .iter()
                    .map(|&item| Pair {
                        item,
                        last_ts: 0,
                        confidence: 1.0,
                        negative: false,
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn planted_co_occurrences_are_found() {
        // Items 0 and 1 always go together; 2 and 3 together; 4 is seen with everything once.
        let data = pairs(&[&[0, 1], &[0, 1], &[0, 1, 4], &[2, 3], &[2, 3, 4], &[2, 3]]);
        let nn = build(
            &data,
            5,
            &ItemKnnParams {
                k: 2,
                shrinkage: 0.0,
                max_items_per_user: 100,
            },
        );
        assert_eq!(nn.row(0).0[0], 1);
        assert_eq!(nn.row(3).0[0], 2);
        assert!(
            (nn.row(0).1[0] - 1.0).abs() < 1e-6,
            "0 and 1 share every user: cosine 1"
        );
        assert!(nn.row(4).1[0] < 0.5);
    }
}
