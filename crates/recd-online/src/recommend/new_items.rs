//! Slots for catalog items the served model has never seen (added after its training), so a
//! new item is shown before the next training gives it a model row (issue: "a new item gets
//! content neighbours and a share of new-arrival slots").
//!
//! Eligible: available, created at most `new_arrival_days` before the request's wall-clock
//! time (or with no creation time: it is new to the model either way), not excluded for the
//! user. Chosen by content similarity to the user's recent positive items when they have any
//! (so a sci-fi viewer's slot goes to the new sci-fi film), else newest first. They go at evenly
//! spaced positions of the list, each taking the score of the item it moves down.

use recd_model::content::{dot, normalize};
use recd_model::pipeline::UserState;
use recd_model::{Model, NO_CATEGORY};

use super::AnswerItem;
use crate::catalog_view::CatalogView;

/// How many recent positive history items make the content profile.
const PROFILE_ITEMS: usize = 20;

/// What the splice needs to know about the request.
pub struct Slots<'a> {
    /// The user's state (its recent positive items make the content profile).
    pub state: &'a UserState,
    /// External ids the user has seen or rejected in real time (new items have no model row,
    /// so the state's exclusions cannot name them).
    pub seen: &'a std::collections::HashSet<&'a str>,
    /// The request's wall-clock time.
    pub now_ms: i64,
    /// How recent a new arrival is, in days.
    pub days: f64,
    /// How many slots to fill.
    pub slots: usize,
    /// Most items of one category in the list (the post-processing cap).
    pub cap: usize,
}

/// Splices up to `req.slots` new catalog items into `items` (keeping its length).
pub fn splice(model: &Model, catalog: &CatalogView, req: &Slots<'_>, items: &mut Vec<AnswerItem>) {
    let (state, now_ms, days, slots) = (req.state, req.now_ms, req.days, req.slots);
    let oldest = now_ms - (days * 86_400_000.0) as i64;
    let shown: std::collections::HashSet<&str> = items.iter().map(|i| i.item_id.as_str()).collect();
    let eligible: Vec<&crate::catalog_view::NewItem> = catalog
        .new_items
        .iter()
        .filter(|it| it.created_ms.is_none_or(|c| c >= oldest && c <= now_ms))
        .filter(|it| !shown.contains(it.id.as_str()) && !req.seen.contains(it.id.as_str()))
        .collect();
    if eligible.is_empty() || slots == 0 || items.is_empty() {
        return;
    }
    let profile = profile(model, state);
    let mut chosen: Vec<(f32, usize)> = eligible
        .iter()
        .enumerate()
        // `new_items` is newest first: without a profile the index is the order.
        .map(|(k, it)| (profile.as_ref().map_or(0.0, |p| dot(p, &it.content)), k))
        .collect();
    chosen.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let n = items.len();
    let take = slots.min(chosen.len()).min(n);
    // The category cap holds after the splice: a new item whose category is full in the list
    // takes the place of the lowest-ranked item of that category, instead of pushing the
    // list's last item out.
    let cat_of = |item: &AnswerItem| {
        model
            .items
            .get(&item.item_id)
            .map(|r| model.meta.category[r as usize])
            .or_else(|| {
                catalog
                    .new_items
                    .iter()
                    .find(|x| x.id == item.item_id)
                    .map(|x| x.category)
            })
            .unwrap_or(NO_CATEGORY)
    };
    for (s, &(_, k)) in chosen.iter().take(take).enumerate() {
        let c = eligible[k].category;
        let kept = &items[..n.min(items.len())];
        let same: Vec<usize> = kept
            .iter()
            .enumerate()
            .filter(|(_, it)| c != NO_CATEGORY && cat_of(it) == c)
            .map(|(i, _)| i)
            .collect();
        if same.len() >= req.cap
            && let Some(&last) = same.last()
        {
            items.remove(last);
        }
        let at = ((s + 1) * n / (take + 1)).min(items.len());
        let score = items.get(at).map_or(0.0, |i| i.score);
        items.insert(
            at,
            AnswerItem {
                item_id: eligible[k].id.clone(),
                score,
                source: "new_arrivals",
                reason: "new arrival".into(),
            },
        );
    }
    items.truncate(n);
}

/// Unit mean content vector of the user's most recent positive items, if any.
fn profile(model: &Model, state: &UserState) -> Option<Vec<f32>> {
    let mut p = vec![0f32; model.encoder.dim];
    let mut any = false;
    for &(i, _) in state
        .history
        .iter()
        .rev()
        .filter(|(i, w)| *w > 0.0 && (*i as usize) < model.n_items())
        .take(PROFILE_ITEMS)
    {
        any = true;
        p.iter_mut()
            .zip(model.content_of(i))
            .for_each(|(a, v)| *a += v);
    }
    any.then(|| {
        normalize(&mut p);
        p
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog_view::NewItem;

    fn item(id: &str) -> AnswerItem {
        AnswerItem {
            item_id: id.into(),
            score: 1.0,
            source: "als",
            reason: String::new(),
        }
    }

    #[test]
    fn a_new_item_of_a_full_category_takes_the_place_of_its_weakest_item() {
        // Categories are row % 3: i0, i3, i6 fill category 0's cap of 3.
        let model = crate::postprocess::tests::model();
        let mut items: Vec<AnswerItem> =
            ["i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8", "i10"]
                .into_iter()
                .map(item)
                .collect();
        let catalog = CatalogView {
            new_items: vec![NewItem {
                id: "fresh".into(),
                category: 0,
                created_ms: Some(1_000),
                content: vec![1.0, 0.0, 0.0, 0.0],
            }],
            ..CatalogView::default()
        };
        let state = UserState::default();
        let seen = std::collections::HashSet::new();
        let slots = Slots {
            state: &state,
            seen: &seen,
            now_ms: 2_000,
            days: 1.0,
            slots: 1,
            cap: 3,
        };
        splice(&model, &catalog, &slots, &mut items);
        let ids: Vec<&str> = items.iter().map(|i| i.item_id.as_str()).collect();
        assert_eq!(ids.len(), 10);
        assert!(ids.contains(&"fresh"), "{ids:?}");
        assert!(
            !ids.contains(&"i6"),
            "the weakest of category 0 made room: {ids:?}"
        );
        assert!(ids.contains(&"i10"), "the list's last item stays: {ids:?}");
        // With room in the category, the last item is pushed out as before.
        let mut items: Vec<AnswerItem> = ["i0", "i1", "i2", "i4", "i5", "i7"]
            .into_iter()
            .map(item)
            .collect();
        splice(&model, &catalog, &slots, &mut items);
        let ids: Vec<&str> = items.iter().map(|i| i.item_id.as_str()).collect();
        assert_eq!(ids, ["i0", "i1", "i2", "fresh", "i4", "i5"]);
    }
}
