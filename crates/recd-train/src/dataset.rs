//! The training data: interactions read from the event log, with model-local dense ids.
//!
//! Ids are assigned here, per training run, rather than taken from the store's id map: the
//! model's rows are then exactly the users and items of its window (plus every catalog item,
//! so items without interactions still get content vectors and can be recommended as new).
//!
//! Everything comes from the log alone, catalog included (the last `Record::Item` of each
//! id is the item as it is): training opens the log read-only beside a running server,
//! which holds the catalog database (one process at a time can open it).
//!
//! A user's tombstone (`Record::UserDeleted`) removes every interaction of that user logged
//! before it: the model never learns from a deleted user. Events of the same id after the
//! tombstone are kept, as a new user's: the id is the caller's, and a caller that reuses it
//! (or a user who comes back) starts from nothing.

use std::collections::HashMap;

use recd_store::EventLog;
use recd_types::{Event, EventKind, Item, Record, Segment};

use crate::TrainError;
use crate::config::{Signal, TrainConfig};

const DAY_MS: f64 = 86_400_000.0;

/// One event's signal about a (user, item) pair.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Interaction {
    /// User row.
    pub user: u32,
    /// Item row.
    pub item: u32,
    /// Event time, ms.
    pub ts: i64,
    /// Confidence (> 0) of a positive signal, or a negative value for a negative signal.
    pub signal: f32,
    /// Where it happened (fits the struct's padding: the interactions of a large log are
    /// the trainer's largest allocation).
    pub ctx: Ctx,
}

/// The moment of an interaction, compactly: the ranker's context features are learned from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ctx {
    /// A hash of the client's session id, never 0; 0 when the event had none.
    pub session: u16,
    /// 1 + the index of the device in [`Vocabulary::devices`]; 0 when none (or past the
    /// vocabulary's size).
    pub device: u8,
    /// 1 + the index of the page in [`Vocabulary::pages`]; 0 when none.
    pub page: u8,
}

/// The context values the interactions name, and each user's demographic segment.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    /// Device classes, in order of first appearance.
    pub devices: Vec<String>,
    /// Pages, in order of first appearance.
    pub pages: Vec<String>,
    /// The segment key of each user row ([`recd_types::Segment::key`]), from their profile.
    pub segments: Vec<Option<String>>,
}

/// Context values kept per kind; the rest count as unnamed (a client sending free text as its
/// device class should not grow the model).
const MAX_VALUES: usize = 255;

impl Vocabulary {
    /// The device named `ctx.device`.
    pub fn device(&self, ctx: Ctx) -> Option<&str> {
        let k = usize::from(ctx.device).checked_sub(1)?;
        self.devices.get(k).map(String::as_str)
    }

    /// The page named `ctx.page`.
    pub fn page(&self, ctx: Ctx) -> Option<&str> {
        let k = usize::from(ctx.page).checked_sub(1)?;
        self.pages.get(k).map(String::as_str)
    }
}

fn code_of(values: &mut Vec<String>, value: Option<&str>) -> u8 {
    let Some(value) = value else { return 0 };
    if let Some(k) = values.iter().position(|v| v == value) {
        return (k + 1) as u8;
    }
    if values.len() >= MAX_VALUES {
        return 0;
    }
    values.push(value.to_string());
    values.len() as u8
}

/// The [`Ctx`] of `event`, naming its values in `vocab`.
fn ctx_of(vocab: &mut Vocabulary, event: &Event) -> Ctx {
    Ctx {
        session: event
            .session_id
            .as_deref()
            .map_or(0, |id| (recd_types::fnv1a(id.bytes()) as u16).max(1)),
        device: code_of(&mut vocab.devices, event.context.device.as_deref()),
        page: code_of(&mut vocab.pages, event.context.page.as_deref()),
    }
}

/// Interactions of a window, their ids, and the catalog.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// User ids by row.
    pub users: Vec<String>,
    /// Item ids by row.
    pub items: Vec<String>,
    /// Catalog entry of each item row, if the catalog has it.
    pub catalog: Vec<Option<Item>>,
    /// Interactions in log order.
    pub interactions: Vec<Interaction>,
    /// First and last event time of the window, ms.
    pub window_ms: (i64, i64),
    /// What the interactions' contexts name, and the users' segments.
    pub vocabulary: Vocabulary,
    /// The searches of the users with interactions, in log order (the `search_match`
    /// feature is learned from them).
    pub searches: Vec<SearchMade>,
    /// The searches' texts, by [`SearchMade::query`].
    pub queries: Vec<String>,
}

/// A search a user made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchMade {
    /// User row.
    pub user: u32,
    /// Event time, ms.
    pub ts: i64,
    /// Index in [`Dataset::queries`].
    pub query: u32,
    /// Where it was made.
    pub ctx: Ctx,
}

/// A search read from the log, its user not yet numbered: a user who only searched gets no
/// row (the model's users are those with interactions).
struct PendingSearch {
    user: String,
    ts: i64,
    offset: u64,
    query: u32,
    ctx: Ctx,
}

#[derive(Default)]
struct Ids {
    rows: HashMap<String, u32>,
    names: Vec<String>,
}

impl Ids {
    fn row(&mut self, name: &str) -> u32 {
        if let Some(&r) = self.rows.get(name) {
            return r;
        }
        let r = self.names.len() as u32;
        self.rows.insert(name.to_string(), r);
        self.names.push(name.to_string());
        r
    }
}

/// What [`Dataset::load_at`] read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Every record from this offset on was read (events included); before it only the
    /// catalog records.
    pub start_offset: u64,
    /// Records read in full.
    pub records_read: u64,
    /// Catalog records read from before `start_offset`.
    pub catalog_records_before: u64,
}

/// Interactions read from one stretch of the log, with their offsets.
#[derive(Default)]
struct Part {
    interactions: Vec<Interaction>,
    offsets: Vec<u64>,
    searches: Vec<PendingSearch>,
}

/// The ids, catalog and tombstones seen so far. Stretches of the log may be read in any
/// order: the catalog keeps the record of the highest offset per item, and a tombstone drops
/// the user's interactions of lower offsets, whichever was read first.
#[derive(Default)]
struct Loader {
    /// Items by first appearance in an event.
    seen: Ids,
    users: Ids,
    catalog: HashMap<String, (u64, Item)>,
    /// User id → (offset, segment key) of their newest profile.
    profiles: HashMap<String, (u64, Option<String>)>,
    /// Devices and pages named so far.
    vocabulary: Vocabulary,
    /// Search texts, numbered.
    queries: Ids,
    /// User id → offset of their last tombstone.
    deleted: HashMap<String, u64>,
    n_read: u64,
    /// The smallest offset read in full.
    first_offset: Option<u64>,
    /// Item records are not taken from what is read (a bus's partitions: the items are on
    /// its catalog channel, whose offsets are not comparable with theirs).
    skip_items: bool,
}

impl Loader {
    /// Reads records from `from` up to `to` (the end if `None`).
    fn read(
        &mut self,
        log: &dyn EventLog,
        from: u64,
        to: Option<u64>,
        config: &TrainConfig,
    ) -> Result<Part, TrainError> {
        let mut part = Part::default();
        for entry in log.read_from(from)? {
            let (offset, record) = entry?;
            if to.is_some_and(|to| offset >= to) {
                break;
            }
            self.n_read += 1;
            self.first_offset = Some(self.first_offset.map_or(offset, |f| f.min(offset)));
            let event = match record {
                Record::Event(event) => event,
                other => {
                    self.catalog(offset, other);
                    continue;
                }
            };
            // Events flagged at ingest (a bot's pace) teach nothing.
            if !event.is_trusted() {
                continue;
            }
            if let Some(query) = event.query.as_deref().map(str::trim)
                && event.kind == EventKind::Search
                && !query.is_empty()
            {
                part.searches.push(PendingSearch {
                    user: event.user_id.as_str().to_string(),
                    ts: event.timestamp_ms,
                    offset,
                    query: self.queries.row(query),
                    ctx: ctx_of(&mut self.vocabulary, &event),
                });
            }
            let Some(item) = &event.item_id else { continue };
            let signal = match config
                .weights
                .signal(event.kind, event.value, event.dwell_ms)
            {
                Signal::Positive(c) => c,
                Signal::Negative => -1.0,
                Signal::None => continue,
            };
            part.interactions.push(Interaction {
                user: self.users.row(event.user_id.as_str()),
                item: self.seen.row(item.as_str()),
                ts: event.timestamp_ms,
                signal,
                ctx: ctx_of(&mut self.vocabulary, &event),
            });
            part.offsets.push(offset);
        }
        Ok(part)
    }

    /// Takes in a catalog record (an event is ignored).
    fn catalog(&mut self, offset: u64, record: Record) {
        match record {
            Record::Item { item, .. } if !self.skip_items => {
                let id = item.id.as_str().to_string();
                if self.catalog.get(&id).is_none_or(|(o, _)| *o < offset) {
                    self.catalog.insert(id, (offset, item));
                }
            }
            Record::User { user, .. } => {
                let id = user.id.as_str().to_string();
                if self.profiles.get(&id).is_none_or(|(o, _)| *o < offset) {
                    let segment = Segment::of(&user).map(|s| s.key());
                    self.profiles.insert(id, (offset, segment));
                }
            }
            Record::UserDeleted { user, .. } => {
                let at = self
                    .deleted
                    .entry(user.as_str().to_string())
                    .or_insert(offset);
                *at = (*at).max(offset);
            }
            Record::Item { .. } | Record::Event(_) | Record::Impression(_) => {}
        }
    }

    /// The data set of `part` (every interaction read, in log order): deleted users'
    /// interactions dropped, rows numbered.
    fn finish(self, mut part: Part) -> Dataset {
        let deleted: HashMap<u32, u64> = self
            .deleted
            .iter()
            .filter_map(|(name, &at)| self.users.rows.get(name).map(|&row| (row, at)))
            .collect();
        let users = forget_deleted(&mut part, self.users, &deleted);
        let searches = searches_of(std::mem::take(&mut part.searches), &users, &self.deleted);
        let mut interactions = part.interactions;
        // Rows: catalog items by id, then the others in order of first appearance.
        let mut catalog: Vec<(String, Item)> = self
            .catalog
            .into_iter()
            .map(|(id, (_, item))| (id, item))
            .collect();
        catalog.sort_by(|a, b| a.0.cmp(&b.0));
        let mut items = Ids::default();
        for (id, _) in &catalog {
            items.row(id);
        }
        let row_of: Vec<u32> = self.seen.names.iter().map(|name| items.row(name)).collect();
        for i in &mut interactions {
            i.item = row_of[i.item as usize];
        }
        let mut rows: Vec<Option<Item>> = catalog.into_iter().map(|(_, item)| Some(item)).collect();
        rows.resize(items.names.len(), None);
        let mut vocabulary = self.vocabulary;
        vocabulary.segments = users
            .iter()
            .map(|name| {
                let (at, segment) = self.profiles.get(name)?;
                // A profile from before the user's deletion is forgotten with their events.
                let forgotten = self.deleted.get(name).is_some_and(|d| d > at);
                segment.clone().filter(|_| !forgotten)
            })
            .collect();
        Dataset {
            users,
            items: items.names,
            catalog: rows,
            interactions,
            window_ms: (0, 0),
            vocabulary,
            searches,
            queries: self.queries.names,
        }
    }
}

impl Dataset {
    /// Reads the catalog and the events of the log (within the configured window).
    pub fn load(log: &dyn EventLog, config: &TrainConfig) -> Result<Self, TrainError> {
        Ok(Self::load_at(log, config, now_ms())?.0)
    }

    /// [`Dataset::load`] as of `now_ms`, with what it read.
    ///
    /// With a window, the log is read in full only from the first segment that may hold an
    /// event of the window ([`EventLog::offset_for_time`], the segments' time ranges), and
    /// the catalog before that point comes from [`EventLog::read_catalog`], which skips the
    /// events. The window ends at the newest event, which is not known before reading: the
    /// log is first read from where events of the last `window_days` before `now_ms` may
    /// start (where the newest event is, if the data is live), then, if the window starts
    /// earlier, the part before. A historical data set (newest event older than the window)
    /// is read whole.
    pub fn load_at(
        log: &dyn EventLog,
        config: &TrainConfig,
        now_ms: i64,
    ) -> Result<(Self, LoadStats), TrainError> {
        let span = config.window_days.map(|d| (d * DAY_MS) as i64);
        let mut loader = Loader::default();
        let recent_start = span.map_or(0, |s| log.offset_for_time(now_ms.saturating_sub(s)));
        let recent = loader.read(log, recent_start, None, config)?;
        let newest = recent.interactions.iter().map(|i| i.ts).max();
        let start = match (span, newest) {
            (Some(s), Some(end)) if end >= now_ms.saturating_sub(s) => {
                log.offset_for_time(end.saturating_sub(s)).min(recent_start)
            }
            // Historical, `--all`, or nothing recent: everything.
            _ => 0,
        };
        let mut part = if start < recent_start {
            loader.read(log, start, Some(recent_start), config)?
        } else {
            Part::default()
        };
        part.interactions.extend(recent.interactions);
        part.offsets.extend(recent.offsets);
        part.searches.extend(recent.searches);
        // The catalog records before the first record read: before the window, or, in a
        // compacted log, those of the deleted segments (the log's read starts after them).
        let mut n_catalog = 0u64;
        let catalog_end = loader.first_offset.map_or(start, |first| first.max(start));
        for entry in log.read_catalog(catalog_end)? {
            let (offset, record) = entry?;
            n_catalog += 1;
            loader.catalog(offset, record);
        }
        let stats = LoadStats {
            start_offset: start,
            records_read: loader.n_read,
            catalog_records_before: n_catalog,
        };
        tracing::info!(
            start_offset = start,
            records_read = stats.records_read,
            catalog_records_before = n_catalog,
            "read the log in full from the start of the window, and only its catalog records before"
        );
        let mut ds = loader.finish(part);
        ds.apply_window(config.window_days, now_ms);
        ds.order_items_by_use(ds.window_ms.1 - (config.holdout_days * DAY_MS) as i64);
        Ok((ds, stats))
    }

    /// Renumbers the item rows by how many interactions each has at or before `cut_ms` (the
    /// hold-out's cut, so the evaluation's tie-breaks by row learn nothing from the hold-out),
    /// most first; ties keep their order. Every per-item array of the model follows this
    /// order, and serving reads the arrays of the items that requests touch, which are mostly
    /// popular ones: packed at the start instead of scattered over the catalog, they share
    /// cache lines and stay in cache (see bench/runs/2026-11-24.md, "Item rows ordered by use").
    pub fn order_items_by_use(&mut self, cut_ms: i64) {
        let mut uses = vec![0u32; self.items.len()];
        for i in self.interactions.iter().filter(|i| i.ts <= cut_ms) {
            uses[i.item as usize] += 1;
        }
        let mut order: Vec<u32> = (0..self.items.len() as u32).collect();
        order.sort_by_key(|&r| std::cmp::Reverse(uses[r as usize]));
        let mut row_of = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            row_of[old as usize] = new as u32;
        }
        let mut items = std::mem::take(&mut self.items);
        let mut catalog = std::mem::take(&mut self.catalog);
        self.items = order
            .iter()
            .map(|&r| std::mem::take(&mut items[r as usize]))
            .collect();
        self.catalog = order.iter().map(|&r| catalog[r as usize].take()).collect();
        for i in &mut self.interactions {
            i.item = row_of[i.item as usize];
        }
    }

    /// Keeps the last `days` before the newest event (all if `None`), and records the window.
    ///
    /// Live data (its newest event within the window of `now_ms`) keeps the last `days` before
    /// the newest event, the seed's daily job. A historical data set, whose newest event is
    /// older than the window (MovieLens ends in 1998), is kept whole: cutting it to its last
    /// month would train on a sliver of it. That choice is logged.
    pub fn apply_window(&mut self, days: Option<f64>, now_ms: i64) {
        let end = self.interactions.iter().map(|i| i.ts).max().unwrap_or(0);
        if let Some(days) = days {
            let span = (days * DAY_MS) as i64;
            if end < now_ms - span {
                tracing::info!(
                    window_days = days,
                    newest_event_age_days = format!("{:.0}", (now_ms - end) as f64 / DAY_MS),
                    "the newest event is older than the training window: a historical data set, training on all of it (`--all` says so explicitly)"
                );
            } else {
                self.interactions.retain(|i| i.ts >= end - span);
                self.searches.retain(|s| s.ts >= end - span);
            }
        }
        let start = self.interactions.iter().map(|i| i.ts).min().unwrap_or(end);
        self.window_ms = (start, end);
    }

    /// Splits at `end − days`: (before, hold-out).
    pub fn split_holdout(&self, days: f64) -> (Vec<Interaction>, Vec<Interaction>) {
        let cut = self.window_ms.1 - (days * DAY_MS) as i64;
        self.interactions.iter().partition(|i| i.ts <= cut)
    }
}

/// The searches of the users in `users` (by row), those before the user's deletion
/// forgotten, in log order.
fn searches_of(
    mut pending: Vec<PendingSearch>,
    users: &[String],
    deleted: &HashMap<String, u64>,
) -> Vec<SearchMade> {
    let row: HashMap<&str, u32> = users
        .iter()
        .enumerate()
        .map(|(r, name)| (name.as_str(), r as u32))
        .collect();
    pending.sort_by_key(|s| s.offset);
    pending
        .iter()
        .filter(|s| deleted.get(&s.user).is_none_or(|&at| s.offset > at))
        .filter_map(|s| {
            Some(SearchMade {
                user: *row.get(s.user.as_str())?,
                ts: s.ts,
                query: s.query,
                ctx: s.ctx,
            })
        })
        .collect()
}

/// Drops each deleted user's interactions logged before their last tombstone (`deleted`:
/// user row → the tombstone's offset), then numbers the users that still have interactions
/// again, in their old order. Returns the user ids by new row.
fn forget_deleted(part: &mut Part, users: Ids, deleted: &HashMap<u32, u64>) -> Vec<String> {
    if deleted.is_empty() {
        return users.names;
    }
    let mut offsets = part.offsets.iter();
    part.interactions.retain(|i| {
        let offset = offsets.next().copied().unwrap_or(u64::MAX);
        deleted.get(&i.user).is_none_or(|&at| offset > at)
    });
    let interactions = &mut part.interactions;
    let mut row_of = vec![u32::MAX; users.names.len()];
    for i in interactions.iter() {
        row_of[i.user as usize] = 0;
    }
    let mut names = Vec::new();
    for (old, name) in users.names.into_iter().enumerate() {
        if row_of[old] == 0 {
            row_of[old] = names.len() as u32;
            names.push(name);
        }
    }
    for i in interactions.iter_mut() {
        i.user = row_of[i.user as usize];
    }
    names
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Splits each user's interactions at their newest `fraction` (by time, then item, as the
/// offline protocol does): (head, tail). Users with fewer than 5 interactions stay whole in
/// the head.
pub fn split_user_tails(
    interactions: &[Interaction],
    fraction: f64,
) -> (Vec<Interaction>, Vec<Interaction>) {
    let mut by_user: HashMap<u32, Vec<Interaction>> = HashMap::new();
    for i in interactions {
        by_user.entry(i.user).or_default().push(*i);
    }
    let mut users: Vec<u32> = by_user.keys().copied().collect();
    users.sort_unstable();
    let (mut head, mut tail) = (Vec::new(), Vec::new());
    for u in users {
        let mut list = by_user.remove(&u).unwrap_or_default();
        list.sort_by_key(|i| (i.ts, i.item));
        let n = list.len();
        let n_tail = if n < 5 {
            0
        } else {
            ((n as f64 * fraction).ceil() as usize).max(1)
        };
        tail.extend_from_slice(&list[n - n_tail..]);
        head.extend_from_slice(&list[..n - n_tail]);
    }
    (head, tail)
}

/// A deterministic sample of at most `max` distinct `users` (all of them if there are
/// fewer), in ascending order. Users are ranked by a hash of their row and `seed`, so the sample does
/// not favour low rows (early sign-ups).
pub fn sample_users(users: impl IntoIterator<Item = u32>, max: usize, seed: u64) -> Vec<u32> {
    let mut users: Vec<u32> = users.into_iter().collect();
    users.sort_unstable();
    users.dedup();
    if users.len() > max {
        users.sort_by_key(|&u| splitmix64(u64::from(u) ^ seed));
        users.truncate(max);
    }
    users.sort_unstable();
    users
}

/// SplitMix64's finaliser: a cheap, well-mixed hash of one integer.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(user: u32, item: u32, ts: i64) -> Interaction {
        Interaction {
            user,
            item,
            ts,
            signal: 1.0,
            ctx: Ctx::default(),
        }
    }

    #[test]
    fn item_rows_follow_use_before_the_cut() {
        let mut ds = Dataset {
            items: ["a", "b", "c", "d"].map(String::from).to_vec(),
            catalog: vec![None; 4],
            // c twice and b once before the cut; d three times after it.
            interactions: vec![
                i(0, 2, 1),
                i(1, 2, 2),
                i(0, 1, 3),
                i(0, 3, 9),
                i(1, 3, 9),
                i(2, 3, 9),
            ],
            ..Dataset::default()
        };
        ds.catalog[1] = Some(Item::new(
            recd_types::ItemId::parse("b".to_string()).unwrap(),
            "B",
        ));
        ds.order_items_by_use(5);
        assert_eq!(
            ds.items,
            ["c", "b", "a", "d"],
            "most used first, ties in their order"
        );
        let names: Vec<&str> = ds
            .interactions
            .iter()
            .map(|x| ds.items[x.item as usize].as_str())
            .collect();
        assert_eq!(
            names,
            ["c", "c", "b", "d", "d", "d"],
            "interactions follow their items"
        );
        assert_eq!(ds.catalog[1].as_ref().map(|c| c.id.as_str()), Some("b"));
        assert!(ds.catalog[0].is_none());
    }

    #[test]
    fn a_tombstone_drops_the_users_earlier_interactions_only() {
        let users = Ids {
            rows: HashMap::new(),
            names: ["a", "gone", "back", "c"].map(String::from).to_vec(),
        };
        // "gone" (row 1) deleted at offset 14; "back" (row 2) deleted at offset 12, then
        // active again at offset 15.
        let mut part = Part {
            interactions: vec![
                i(0, 0, 1),
                i(1, 0, 2),
                i(2, 0, 3),
                i(1, 1, 4),
                i(2, 1, 5),
                i(3, 0, 6),
            ],
            offsets: vec![10, 11, 12, 13, 15, 16],
            searches: Vec::new(),
        };
        let deleted = HashMap::from([(1, 14), (2, 12)]);
        let names = forget_deleted(&mut part, users, &deleted);
        assert_eq!(names, ["a", "back", "c"]);
        assert_eq!(part.interactions, vec![i(0, 0, 1), i(1, 1, 5), i(2, 0, 6)]);
    }

    #[test]
    fn user_tails_follow_the_protocol_rule() {
        let mut xs: Vec<Interaction> = (0..10).map(|k| i(0, k, 100 - k as i64)).collect();
        xs.extend((0..4).map(|k| i(1, k, k as i64)));
        let (head, tail) = split_user_tails(&xs, 0.2);
        assert_eq!(
            tail.iter().map(|x| x.item).collect::<Vec<_>>(),
            vec![1, 0],
            "newest two of user 0"
        );
        assert_eq!(head.len(), 12, "user 1 has fewer than 5 and stays whole");
    }

    #[test]
    fn user_samples_are_bounded_deterministic_and_spread() {
        let all: Vec<u32> = (0..10_000).collect();
        let a = sample_users(all.clone(), 100, 7);
        assert_eq!(a.len(), 100);
        assert_eq!(a, sample_users(all.clone(), 100, 7));
        assert_ne!(a, sample_users(all.clone(), 100, 8));
        assert!(a.iter().any(|&u| u > 5_000), "not just the lowest rows");
        assert_eq!(sample_users(vec![3, 1, 2, 3], 100, 7), vec![1, 2, 3]);
    }

    #[test]
    fn window_and_holdout() {
        let day = DAY_MS as i64;
        let mut ds = Dataset {
            interactions: (0..40).map(|d| i(0, 0, d * day)).collect(),
            ..Default::default()
        };
        let historical = ds.clone();
        // Live: the newest event is a day old.
        ds.apply_window(Some(30.0), 40 * day);
        assert_eq!(ds.interactions.len(), 31);
        assert_eq!(ds.window_ms, (9 * day, 39 * day));
        let (train, holdout) = ds.split_holdout(7.0);
        assert_eq!((train.len(), holdout.len()), (24, 7));
        // Historical: the newest event is older than the window, so all of it is kept.
        let mut old = historical;
        old.apply_window(Some(30.0), 400 * day);
        assert_eq!(old.interactions.len(), 40);
        assert_eq!(old.window_ms, (0, 39 * day));
    }
}

#[cfg(test)]
mod flagged {
    use recd_store::{Store, StoreConfig};
    use recd_types::{Event, EventFlag, EventKind, ItemId, UserId};

    use super::*;

    #[test]
    fn events_flagged_at_ingest_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
        let event = |user: &str, item: &str, flag| {
            let mut e = Event::new(
                UserId::parse(user).unwrap(),
                Some(ItemId::parse(item).unwrap()),
                EventKind::Purchase,
                1_700_000_000_000,
            );
            e.flag = flag;
            e
        };
        store
            .append_events(vec![
                event("person", "a", None),
                event("bot", "b", Some(EventFlag::RateCeiling)),
                event("bot", "c", Some(EventFlag::RateCeiling)),
            ])
            .unwrap();
        let ds = Dataset::load(store.log().as_ref(), &TrainConfig::default()).unwrap();
        assert_eq!(ds.interactions.len(), 1);
        assert_eq!(ds.users, ["person"]);
    }
}

#[cfg(test)]
mod incremental;

mod bus;
pub use bus::Source;
