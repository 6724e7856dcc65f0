//! "You may also like": the neighbours of one item.
//!
//! Three kinds of evidence, blended: item-kNN neighbours (people who interacted with one
//! interacted with the other; strongest, so weighted most), nearest neighbours over the ALS
//! item embeddings (the same taste dimensions; finds neighbours kNN's top-k cut missed), and
//! content similarity (metadata; the only evidence for an item without interactions, and the
//! whole answer for an item added after training). Each item's source is the evidence that
//! contributed most to its score.

use std::collections::HashMap;

use recd_model::Model;
use recd_model::content::dot;
use recd_model::pipeline::top_n;

use crate::catalog_view::CatalogView;
use crate::model_watch::Served;
use crate::recommend::AnswerItem;

/// Blend weights of (item-kNN cosine, ALS embedding cosine, content cosine).
const W_KNN: f32 = 0.6;
const W_ALS: f32 = 0.25;
const W_CONTENT: f32 = 0.15;
/// Candidates taken from each kind of evidence before blending.
const PER_SOURCE: usize = 100;

/// The blended neighbours of `id`, or `None` when neither the model nor the catalog view
/// knows it.
pub(crate) fn similar(
    served: &Served,
    catalog: Option<&CatalogView>,
    id: &str,
    n: usize,
) -> Option<Vec<AnswerItem>> {
    let model = &served.model;
    let available =
        |i: u32| catalog.map_or(model.meta.available[i as usize], |c| c.is_available(i));
    let title = |i: u32| {
        catalog
            .and_then(|c| c.titles.get(i as usize))
            .filter(|t| !t.is_empty())
            .cloned()
            .unwrap_or_else(|| model.items.name(i).to_string())
    };
    let Some(row) = model.items.get(id) else {
        // Added after training: content neighbours only.
        let new = catalog?.new_items.iter().find(|x| x.id == id)?;
        let scored = (0..model.n_items() as u32)
            .filter(|&i| available(i))
            .map(|i| (i, dot(&new.content, model.content_of(i))));
        let items = top_n(scored, n)
            .into_iter()
            .map(|(i, s)| out(model, i, s, "content", "similar content".into()))
            .collect();
        return Some(items);
    };
    let mut acc: HashMap<u32, [f32; 3]> = HashMap::new();
    let (cols, sims) = model.neighbors.row(row as usize);
    for (&j, &s) in cols.iter().zip(sims).take(PER_SOURCE) {
        acc.entry(j).or_default()[0] = s;
    }
    for (j, s) in embedding_neighbours(model, row, PER_SOURCE) {
        acc.entry(j).or_default()[1] = s;
    }
    let c = model.content_of(row);
    let content = (0..model.n_items() as u32).map(|j| (j, dot(c, model.content_of(j))));
    for (j, s) in top_n(content, PER_SOURCE) {
        acc.entry(j).or_default()[2] = s;
    }
    let weights = [W_KNN, W_ALS, W_CONTENT];
    let scored = acc
        .iter()
        .filter(|(j, _)| **j != row && available(**j))
        .map(|(&j, e)| (j, e.iter().zip(weights).map(|(s, w)| s.max(0.0) * w).sum()));
    let name = title(row);
    let items = top_n(scored, n)
        .into_iter()
        .map(|(j, score)| {
            let e = acc[&j];
            let k = (0..3)
                .max_by(|&a, &b| (e[a] * weights[a]).total_cmp(&(e[b] * weights[b])))
                .unwrap_or(0);
            let (source, reason) = match k {
                0 => (
                    "item_knn",
                    format!("people who watched {name} also watched this"),
                ),
                1 => ("als", "liked by the same people".to_string()),
                _ => ("content", "similar content".to_string()),
            };
            out(model, j, score, source, reason)
        })
        .collect();
    Some(items)
}

/// The `k` items nearest to `row` by cosine over the ALS item vectors.
fn embedding_neighbours(model: &Model, row: u32, k: usize) -> Vec<(u32, f32)> {
    let f = &model.item_factors;
    let q = f.row(row as usize);
    let qn = dot(q, q).sqrt().max(1e-12);
    let scored = (0..f.n_rows() as u32).map(|j| {
        let v = f.row(j as usize);
        (j, dot(q, v) / (qn * dot(v, v).sqrt().max(1e-12)))
    });
    top_n(scored, k)
}

fn out(model: &Model, i: u32, score: f32, source: &'static str, reason: String) -> AnswerItem {
    AnswerItem {
        item_id: model.items.name(i).to_string(),
        score,
        source,
        reason,
    }
}
