//! The context the ranker learns from: category lifts per device, page, hour and segment
//! (counted over the positive interactions a model is built on), and the moment of each
//! labelled user — the context of their first labelled interaction, as a request made just
//! before it would have carried.

use std::collections::HashMap;

use recd_model::context::{ContextKind, ContextLift};
use recd_model::pipeline::Moment;
use recd_model::{Model, NO_CATEGORY};

use crate::dataset::{Dataset, Interaction, Vocabulary};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// How far back a session is followed from the labelled interaction. Sessions end after a gap
/// of minutes; a day bounds the memory kept per user without cutting real sessions.
const SESSION_LOOKBACK_MS: i64 = DAY_MS;

/// The hour of the day (UTC) of `ts`, as the context key names it.
fn hour_of(ts: i64) -> String {
    (ts.rem_euclid(DAY_MS) / HOUR_MS).to_string()
}

/// Category lifts of the positive `interactions` by device, page, hour and segment, for a
/// model whose items have categories `category` (by row, of `n_categories`).
pub fn lifts(
    vocab: &Vocabulary,
    interactions: &[Interaction],
    category: &[u32],
    n_categories: usize,
) -> ContextLift {
    let mut counts: HashMap<String, Vec<f64>> = HashMap::new();
    let mut add = |key: String, cat: u32| {
        counts.entry(key).or_insert_with(|| vec![0.0; n_categories])[cat as usize] += 1.0;
    };
    for i in interactions.iter().filter(|i| i.signal > 0.0) {
        let cat = category
            .get(i.item as usize)
            .copied()
            .unwrap_or(NO_CATEGORY);
        if cat == NO_CATEGORY {
            continue;
        }
        if let Some(d) = vocab.device(i.ctx) {
            add(ContextKind::Device.key(d), cat);
        }
        if let Some(p) = vocab.page(i.ctx) {
            add(ContextKind::Page.key(p), cat);
        }
        add(ContextKind::Hour.key(&hour_of(i.ts)), cat);
        if let Some(Some(s)) = vocab.segments.get(i.user as usize) {
            add(ContextKind::Segment.key(s), cat);
        }
    }
    let mut lift = ContextLift::from_counts(n_categories, &counts);
    lift.set_user_segments((0..vocab.segments.len()).map(|u| vocab.segments[u].as_deref()));
    lift
}

/// Each scored user's moment: the context of their first interaction in `scored`, with the
/// newest categorised item of the session it continues (`session_item`, a data set item
/// row), taken from `before`.
#[derive(Debug, Default)]
pub struct Moments {
    by_user: HashMap<u32, (Moment, Option<u32>)>,
}

impl Moments {
    /// The moments of the users of `scored`, their sessions followed back through `before`
    /// as the speed layer cuts them (`gap_ms`, [`recd_types::continues_session`]).
    pub fn of(ds: &Dataset, before: &[Interaction], scored: &[Interaction], gap_ms: i64) -> Self {
        let mut first: HashMap<u32, Interaction> = HashMap::new();
        for i in scored {
            let f = first.entry(i.user).or_insert(*i);
            if (i.ts, i.item) < (f.ts, f.item) {
                *f = *i;
            }
        }
        let mut recent: HashMap<u32, Vec<Interaction>> = HashMap::new();
        for i in before {
            if let Some(f) = first.get(&i.user)
                && i.ts <= f.ts
                && f.ts - i.ts <= SESSION_LOOKBACK_MS
            {
                recent.entry(i.user).or_default().push(*i);
            }
        }
        let vocab = &ds.vocabulary;
        let by_user = first
            .into_iter()
            .map(|(u, f)| {
                let mut list = recent.remove(&u).unwrap_or_default();
                list.sort_by_key(|i| (i.ts, i.item));
                let moment = Moment {
                    at_ms: Some(f.ts),
                    device: vocab.device(f.ctx).map(str::to_string),
                    page: vocab.page(f.ctx).map(str::to_string),
                    segment: vocab.segments.get(u as usize).cloned().flatten(),
                    session_category: None,
                };
                (u, (moment, session_item(ds, &list, f, gap_ms)))
            })
            .collect();
        Self { by_user }
    }

    /// User row `user`'s moment for `model`, whose item row of a data set row is `row_of`.
    pub fn get(&self, model: &Model, user: u32, row_of: impl Fn(u32) -> Option<u32>) -> Moment {
        let Some((moment, item)) = self.by_user.get(&user) else {
            return Moment::default();
        };
        let mut moment = moment.clone();
        moment.session_category = item
            .and_then(row_of)
            .and_then(|r| model.meta.category.get(r as usize).copied())
            .filter(|&c| c != NO_CATEGORY);
        moment
    }
}

/// The newest item of `before` (time-ordered) with a category that is in the session `next`
/// continues: walking back while each interaction continues the session of the one before.
fn session_item(
    ds: &Dataset,
    before: &[Interaction],
    next: Interaction,
    gap_ms: i64,
) -> Option<u32> {
    let id = |i: &Interaction| (i.ctx.session != 0).then_some(i.ctx.session);
    let mut later = next;
    for i in before.iter().rev() {
        if !recd_types::continues_session(id(i), i.ts, id(&later), later.ts, gap_ms) {
            return None;
        }
        let categorised = ds
            .catalog
            .get(i.item as usize)
            .and_then(Option::as_ref)
            .is_some_and(|item| item.category.is_some());
        if categorised {
            return Some(i.item);
        }
        later = *i;
    }
    None
}

#[cfg(test)]
mod tests {
    use recd_types::{Item, ItemId};

    use super::*;
    use crate::dataset::Ctx;

    fn at(user: u32, item: u32, ts: i64, session: u16, device: u8) -> Interaction {
        Interaction {
            user,
            item,
            ts,
            signal: 1.0,
            ctx: Ctx {
                session,
                device,
                page: 0,
            },
        }
    }

    fn dataset() -> Dataset {
        let item = |id: &str, cat: Option<&str>| {
            let mut it = Item::new(ItemId::parse(id).unwrap(), id);
            it.category = cat.map(str::to_string);
            Some(it)
        };
        Dataset {
            users: vec!["a".into(), "b".into()],
            items: vec!["x".into(), "y".into(), "z".into()],
            catalog: vec![
                item("x", Some("toys")),
                item("y", None),
                item("z", Some("tools")),
            ],
            vocabulary: Vocabulary {
                devices: vec!["mobile".into(), "tv".into()],
                pages: Vec::new(),
                segments: vec![Some("female/25-34".into()), None],
            },
            ..Dataset::default()
        }
    }

    #[test]
    fn a_moment_is_the_first_scored_interaction_and_its_session() {
        let ds = dataset();
        let gap = 1_000;
        // User 0: x, then y (no category) in session 7, then the first scored event in
        // session 7: the session's newest categorised item is x.
        // User 1: z in session 3, then a scored event in session 4: a new session.
        let before = [
            at(0, 0, 100, 7, 1),
            at(0, 1, 200, 7, 1),
            at(1, 2, 100, 3, 2),
        ];
        let scored = [
            at(0, 2, 900, 7, 2),
            at(0, 0, 800, 7, 2),
            at(1, 0, 300, 4, 2),
        ];
        let m = Moments::of(&ds, &before, &scored, gap);
        let (a, item) = &m.by_user[&0];
        assert_eq!(a.at_ms, Some(800));
        assert_eq!(a.device.as_deref(), Some("tv"));
        assert_eq!(a.segment.as_deref(), Some("female/25-34"));
        assert_eq!(*item, Some(0));
        assert_eq!(m.by_user[&1].1, None);
        // Too long a gap ends the session too.
        let m = Moments::of(&ds, &before, &scored, 500);
        assert_eq!(m.by_user[&0].1, None);
    }

    #[test]
    fn lifts_count_positive_interactions_by_context() {
        let ds = dataset();
        let mut list = Vec::new();
        for k in 0..200 {
            // Mobile users take toys (category 0), tv users tools (category 1).
            list.push(at(0, 0, k, 0, 1));
            list.push(at(1, 2, k, 0, 2));
        }
        let t = lifts(&ds.vocabulary, &list, &[0, NO_CATEGORY, 1], 2);
        let mobile = t.row(ContextKind::Device, "mobile").unwrap();
        assert!(mobile[0] > 0.3 && mobile[1] < -0.3, "{mobile:?}");
        assert!(t.row(ContextKind::Segment, "female/25-34").unwrap()[0] > 0.3);
        assert_eq!(t.segment_of(0), Some("female/25-34"));
        assert_eq!(t.segment_of(1), None);
    }
}
