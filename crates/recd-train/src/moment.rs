//! The context the ranker learns from: category lifts per device, page, hour and segment
//! (counted over the positive interactions a model is built on), and the moment of each
//! labelled user — the context of their first labelled interaction, as a request made just
//! before it would have carried, with the items their newest searches before it match.

use std::collections::HashMap;

use recd_model::context::{ContextKind, ContextLift};
use recd_model::pipeline::Moment;
use recd_model::search::{self, SearchIndex};
use recd_model::{Model, NO_CATEGORY};

use crate::dataset::{Ctx, Dataset, Interaction, SearchMade, Vocabulary};

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

/// A moment in data set rows: the context of a labelled interaction, the newest categorised
/// item of the session it continues (`session_item`, a data set item row), and the items the
/// user's newest searches before it match ([`Moment::searched`]).
#[derive(Debug, Clone, Default)]
pub struct RawMoment {
    moment: Moment,
    session_item: Option<u32>,
}

impl RawMoment {
    /// This moment for `model`, whose item row of a data set row is `row_of`.
    pub fn get(&self, model: &Model, row_of: impl Fn(u32) -> Option<u32>) -> Moment {
        let mut moment = self.moment.clone();
        moment.session_category = self
            .session_item
            .and_then(&row_of)
            .and_then(|r| model.meta.category.get(r as usize).copied())
            .filter(|&c| c != NO_CATEGORY);
        moment.searched = mapped(&moment.searched, row_of);
        moment
    }
}

/// Each scored user's moment: that of their first interaction in `scored`, their session
/// and searches followed back through `before`.
#[derive(Debug, Default)]
pub struct Moments {
    by_user: HashMap<u32, RawMoment>,
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
        let points: Vec<Interaction> = first.into_values().collect();
        let moments = moments_at(ds, &[before], &points, gap_ms);
        Self {
            by_user: points.iter().map(|p| p.user).zip(moments).collect(),
        }
    }

    /// User row `user`'s moment for `model`, whose item row of a data set row is `row_of`.
    pub fn get(&self, model: &Model, user: u32, row_of: impl Fn(u32) -> Option<u32>) -> Moment {
        self.by_user
            .get(&user)
            .map_or_else(Moment::default, |m| m.get(model, row_of))
    }
}

/// A session from a chosen point on (after a search, or where a user's tail starts): the
/// moment just before its first interaction, and its interactions from that one on.
#[derive(Debug, Clone)]
pub struct SessionAt {
    /// User row.
    pub user: u32,
    /// The moment.
    pub moment: RawMoment,
    /// The session's interactions from the moment on, in time order.
    pub session: Vec<Interaction>,
}

/// For each user of `users`, their first `per_user` searches made after their `head` whose
/// session goes on with interactions in `tail`. The ranker learns from these what a search
/// says about the rest of its session: each example's moment is judged by the labels of its own
/// session, as a request made after a search is.
pub fn after_searches(
    ds: &Dataset,
    (head, tail): (&[Interaction], &[Interaction]),
    users: &[u32],
    gap_ms: i64,
    per_user: usize,
) -> Vec<SessionAt> {
    let wanted: std::collections::HashSet<u32> = users.iter().copied().collect();
    let mut searches: HashMap<u32, Vec<SearchMade>> = HashMap::new();
    for s in ds.searches.iter().filter(|s| wanted.contains(&s.user)) {
        searches.entry(s.user).or_default().push(*s);
    }
    if searches.is_empty() || per_user == 0 {
        return Vec::new();
    }
    let mut head_end: HashMap<u32, i64> = HashMap::new();
    for i in head.iter().filter(|i| searches.contains_key(&i.user)) {
        let end = head_end.entry(i.user).or_insert(i64::MIN);
        *end = (*end).max(i.ts);
    }
    let mut later: HashMap<u32, Vec<Interaction>> = HashMap::new();
    for i in tail.iter().filter(|i| searches.contains_key(&i.user)) {
        later.entry(i.user).or_default().push(*i);
    }
    let mut found: Vec<(Interaction, Vec<Interaction>)> = Vec::new();
    let mut users: Vec<u32> = searches.keys().copied().collect();
    users.sort_unstable();
    for u in users {
        let (Some(list), Some(mine)) = (later.get_mut(&u), searches.get_mut(&u)) else {
            continue;
        };
        list.sort_by_key(|i| (i.ts, i.item));
        mine.sort_by_key(|s| s.ts);
        let end = head_end.get(&u).copied().unwrap_or(i64::MIN);
        let mut taken = 0;
        for s in mine.iter().filter(|s| s.ts > end) {
            if taken == per_user {
                break;
            }
            let session = session_from(list, s.ctx, s.ts, gap_ms);
            if let Some(&first) = session.first() {
                found.push((first, session));
                taken += 1;
            }
        }
    }
    sessions_at(ds, &[head, tail], found, gap_ms)
}

/// The interactions of `list` (time-ordered) from `ts` on that continue the session of an
/// event at `ts` in `ctx`, each continuing the one before.
fn session_from(list: &[Interaction], ctx: Ctx, ts: i64, gap_ms: i64) -> Vec<Interaction> {
    let id = |ctx: Ctx| (ctx.session != 0).then_some(ctx.session);
    let (mut last_id, mut last_ts) = (id(ctx), ts);
    list[list.partition_point(|i| i.ts < ts)..]
        .iter()
        .take_while(|i| {
            let goes_on = recd_types::continues_session(last_id, last_ts, id(i.ctx), i.ts, gap_ms);
            (last_id, last_ts) = (id(i.ctx), i.ts);
            goes_on
        })
        .copied()
        .collect()
}

/// The found sessions (their first interaction, their interactions) with their moments, the
/// sessions followed back through `before`.
fn sessions_at(
    ds: &Dataset,
    before: &[&[Interaction]],
    found: Vec<(Interaction, Vec<Interaction>)>,
    gap_ms: i64,
) -> Vec<SessionAt> {
    let points: Vec<Interaction> = found.iter().map(|(f, _)| *f).collect();
    let moments = moments_at(ds, before, &points, gap_ms);
    found
        .into_iter()
        .zip(moments)
        .map(|((first, session), moment)| SessionAt {
            user: first.user,
            moment,
            session,
        })
        .collect()
}

/// The moments just before each interaction of `points`: its context, its session followed
/// back through `before` (every interaction of its user no later than it, itself excepted),
/// and its user's newest searches.
fn moments_at(
    ds: &Dataset,
    before: &[&[Interaction]],
    points: &[Interaction],
    gap_ms: i64,
) -> Vec<RawMoment> {
    // Only what a point's session look-back reaches is kept: `before` may be most of a
    // large log.
    let mut reach: HashMap<u32, (i64, i64)> = HashMap::new();
    for p in points {
        let r = reach.entry(p.user).or_insert((p.ts, p.ts));
        *r = (r.0.min(p.ts), r.1.max(p.ts));
    }
    let mut recent: HashMap<u32, Vec<Interaction>> = HashMap::new();
    for i in before.iter().copied().flatten() {
        if let Some(&(first, last)) = reach.get(&i.user)
            && i.ts <= last
            && i.ts >= first - SESSION_LOOKBACK_MS
        {
            recent.entry(i.user).or_default().push(*i);
        }
    }
    for list in recent.values_mut() {
        list.sort_by_key(|i| (i.ts, i.item));
    }
    let searched = searched(ds, points);
    let vocab = &ds.vocabulary;
    points
        .iter()
        .zip(searched)
        .map(|(f, searched)| {
            let list: Vec<Interaction> = recent
                .get(&f.user)
                .map(|l| {
                    let from = l.partition_point(|i| i.ts < f.ts - SESSION_LOOKBACK_MS);
                    let to = l.partition_point(|i| i.ts <= f.ts);
                    l[from..to].iter().filter(|i| *i != f).copied().collect()
                })
                .unwrap_or_default();
            let moment = Moment {
                at_ms: Some(f.ts),
                device: vocab.device(f.ctx).map(str::to_string),
                page: vocab.page(f.ctx).map(str::to_string),
                segment: vocab.segments.get(f.user as usize).cloned().flatten(),
                session_category: None,
                searched,
            };
            RawMoment {
                moment,
                session_item: session_item(ds, &list, *f, gap_ms),
            }
        })
        .collect()
}

/// The items the newest searches before each point match, as the online engine finds them
/// ([`search::strengths`] of the [`search::DEFAULT_QUERIES`] newest distinct searches of its
/// user, [`search::DEFAULT_MATCHES`] items each, over the available catalog items). The feature
/// store keeps a user's searches while they stay active; a day back is followed here, as for
/// the session.
fn searched(ds: &Dataset, points: &[Interaction]) -> Vec<Vec<(u32, f32)>> {
    let users: std::collections::HashSet<u32> = points.iter().map(|p| p.user).collect();
    let mut by_user: HashMap<u32, Vec<(i64, u32)>> = HashMap::new();
    for s in ds.searches.iter().filter(|s| users.contains(&s.user)) {
        by_user.entry(s.user).or_default().push((s.ts, s.query));
    }
    if by_user.is_empty() {
        return vec![Vec::new(); points.len()];
    }
    for list in by_user.values_mut() {
        list.sort_unstable();
    }
    let mut index = SearchIndex::default();
    for (row, item) in ds.catalog.iter().enumerate() {
        if let Some(item) = item.as_ref().filter(|i| i.available) {
            index.add(row as u32, search::item_texts(item));
        }
    }
    points
        .iter()
        .map(|f| {
            let Some(list) = by_user.get(&f.user) else {
                return Vec::new();
            };
            let from = list.partition_point(|s| s.0 < f.ts - SESSION_LOOKBACK_MS);
            let to = list.partition_point(|s| s.0 <= f.ts);
            let mut queries: Vec<u32> = Vec::new();
            for &(_, q) in list[from..to].iter().rev() {
                if !queries.contains(&q) && queries.len() < search::DEFAULT_QUERIES {
                    queries.push(q);
                }
            }
            let matches: Vec<Vec<(u32, f32)>> = queries
                .iter()
                .map(|&q| index.matches(&ds.queries[q as usize], search::DEFAULT_MATCHES))
                .collect();
            search::strengths(matches.iter().map(Vec::as_slice))
        })
        .collect()
}

/// `searched` (data set rows) in a model's rows (`row_of`), sorted by them; items the model
/// lacks left out.
fn mapped(searched: &[(u32, f32)], row_of: impl Fn(u32) -> Option<u32>) -> Vec<(u32, f32)> {
    let mut out: Vec<(u32, f32)> = searched
        .iter()
        .filter_map(|&(row, s)| Some((row_of(row)?, s)))
        .collect();
    out.sort_by_key(|m| m.0);
    out
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
        let RawMoment {
            moment: a,
            session_item: item,
        } = &m.by_user[&0];
        assert_eq!(a.at_ms, Some(800));
        assert_eq!(a.device.as_deref(), Some("tv"));
        assert_eq!(a.segment.as_deref(), Some("female/25-34"));
        assert_eq!(*item, Some(0));
        assert_eq!(m.by_user[&1].session_item, None);
        // Too long a gap ends the session too.
        let m = Moments::of(&ds, &before, &scored, 500);
        assert_eq!(m.by_user[&0].session_item, None);
    }

    #[test]
    fn a_moment_carries_what_the_newest_searches_before_it_match() {
        let mut ds = dataset();
        ds.queries = vec!["toys".into(), "tools".into(), "gadgets".into()];
        let made = |user, ts, query| crate::dataset::SearchMade {
            user,
            ts,
            query,
            ctx: Ctx::default(),
        };
        ds.searches = vec![
            // User 0: "tools" then "toys" before the scored event, "gadgets" after it.
            made(0, 100, 1),
            made(0, 300, 0),
            made(0, 900, 2),
            // User 1: "toys" two days before: the searches are a day's.
            made(1, 300 - 2 * DAY_MS, 0),
        ];
        let before = [at(0, 1, 200, 7, 1), at(1, 2, 100, 3, 2)];
        let scored = [at(0, 2, 800, 7, 2), at(1, 0, 300, 4, 2)];
        let m = Moments::of(&ds, &before, &scored, 1_000);
        // By their categories, "toys" matches item x (row 0), "tools" item z (row 2).
        assert_eq!(m.by_user[&0].moment.searched, [(0, 1.0), (2, 1.0)]);
        assert!(m.by_user[&1].moment.searched.is_empty());
        // A model whose rows differ: mapped and sorted by its rows; an item it lacks is
        // left out.
        let moved = mapped(&[(0, 1.0), (2, 0.5), (4, 0.25)], |r| {
            (r != 0).then_some(5 - r)
        });
        assert_eq!(moved, [(1, 0.25), (3, 0.5)]);
    }

    #[test]
    fn a_search_after_the_head_makes_a_moment_labelled_by_the_rest_of_its_session() {
        let mut ds = dataset();
        ds.queries = vec!["toys".into()];
        let made = |user, ts, session| crate::dataset::SearchMade {
            user,
            ts,
            query: 0,
            ctx: Ctx {
                session,
                device: 1,
                page: 0,
            },
        };
        ds.searches = vec![
            made(0, 50, 7),    // before user 0's head ends: the head model saw its session
            made(0, 450, 7),   // in the tail: its session is the next two interactions
            made(0, 4_000, 8), // nothing follows it in its session
            made(1, 300, 3),   // user 1 has no tail
        ];
        let head = [at(0, 0, 100, 7, 1), at(1, 2, 100, 3, 2)];
        let tail = [
            at(0, 2, 600, 7, 1),
            at(0, 1, 500, 7, 1),
            at(0, 0, 5_000, 9, 1),
        ];
        let found = after_searches(&ds, (&head, &tail), &[0, 1], 1_000, 2);
        assert_eq!(found.len(), 1, "{found:?}");
        let a = &found[0];
        assert_eq!(a.user, 0);
        assert_eq!(a.session, [at(0, 1, 500, 7, 1), at(0, 2, 600, 7, 1)]);
        // The moment is the first interaction's, with the search's matches (item x, row 0).
        assert_eq!(a.moment.moment.at_ms, Some(500));
        assert_eq!(a.moment.moment.searched, [(0, 1.0)]);
        assert!(after_searches(&ds, (&head, &tail), &[1], 1_000, 2).is_empty());
        assert!(after_searches(&ds, (&head, &tail), &[0], 1_000, 0).is_empty());
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
