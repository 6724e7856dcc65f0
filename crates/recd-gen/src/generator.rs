//! `Generator`: the public face of the crate. Items, users and events by index, events in
//! blocks (sequentially or in parallel, always in the same order), and the ground truth.

use std::sync::mpsc::sync_channel;

use rayon::prelude::*;
use recd_types::{Event, EventKind, Item, ItemId, TimestampMs, User, UserId};

use crate::events::{draws, item_id, render};
use crate::items::item_record;
use crate::kinds::KindModel;
use crate::users::{Profile, user_id};
use crate::words::{DEVICES, category_name};
use crate::world::World;
use crate::{GenConfig, GenError};

/// Users per block. Only a unit of work and of hand-over: the output does not depend on it.
pub const BLOCK_USERS: u32 = 256;
/// Users sampled (evenly spaced) to calibrate the kind model.
const PILOT_USERS: u32 = 10_000;

/// The events of a run of consecutive users, each user's events in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBlock {
    /// Position of the block (blocks cover users in index order).
    pub index: u32,
    /// The first user of the block.
    pub first_user: u32,
    /// Number of users in the block.
    pub n_users: u32,
    /// The events, user by user, each user's in time order.
    pub events: Vec<Event>,
}

/// Counts over generated events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenStats {
    /// Number of events.
    pub n_events: u64,
    /// Events per kind, indexed by `EventKind::index`.
    pub kind_counts: [u64; 9],
}

impl GenStats {
    /// Adds a block's events.
    pub fn add(&mut self, events: &[Event]) {
        for e in events {
            self.kind_counts[e.kind.index()] += 1;
        }
        self.n_events += events.len() as u64;
    }

    /// Number of events of `kind`.
    pub fn count(&self, kind: EventKind) -> u64 {
        self.kind_counts[kind.index()]
    }
}

/// What the generator knows about an item and a model can only infer.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemTruth {
    /// The latent category (index; its name is [`Generator::category_name`]).
    pub category: u32,
    /// Share of global popularity (all items sum to 1).
    pub popularity: f64,
    /// When the item was created.
    pub created_at_ms: TimestampMs,
    /// The latent vector.
    pub vector: Vec<f32>,
}

/// What the generator knows about a user and a model can only infer.
#[derive(Debug, Clone, PartialEq)]
pub struct UserTruth {
    /// Favourite categories and their weights in the user's taste (weights sum to 1).
    pub favourite_categories: Vec<(u32, f32)>,
    /// The latent taste vector.
    pub vector: Vec<f32>,
    /// Propensity to engage beyond affinity (click, buy, like more or less than others).
    pub propensity: f32,
    /// Number of events the user has.
    pub n_events: u64,
}

/// A deterministic synthetic world: same config, same items, users and events, byte for byte.
#[derive(Debug)]
pub struct Generator {
    pub(crate) world: World,
    pub(crate) kinds: KindModel,
}

impl Generator {
    /// Builds the world (categories, items, activity) and calibrates event kinds on a pilot
    /// sample. Costs O(users + items) time and memory.
    pub fn new(config: GenConfig) -> Result<Self, GenError> {
        let world = World::build(config)?;
        let kinds = calibrate(&world);
        Ok(Self { world, kinds })
    }

    /// The settings.
    pub fn config(&self) -> &GenConfig {
        &self.world.config
    }

    /// The catalog record of item `idx` (`idx < n_items`).
    pub fn item(&self, idx: u32) -> Item {
        item_record(&self.world, idx)
    }

    /// All items in index order.
    pub fn items(&self) -> impl Iterator<Item = Item> + '_ {
        (0..self.world.config.n_items).map(|i| self.item(i))
    }

    /// The profile of user `idx` (`idx < n_users`).
    pub fn user(&self, idx: u32) -> User {
        Profile::draw(&self.world, idx).to_user(idx)
    }

    /// All users in index order.
    pub fn users(&self) -> impl Iterator<Item = User> + '_ {
        (0..self.world.config.n_users).map(|u| self.user(u))
    }

    /// The events of user `idx`, in time order.
    pub fn user_events(&self, idx: u32) -> Vec<Event> {
        let profile = Profile::draw(&self.world, idx);
        let draws = draws(&self.world, &profile, idx);
        render(&self.world, &self.kinds, &profile, idx, &draws)
    }

    /// Number of event blocks.
    pub fn n_blocks(&self) -> u32 {
        self.world.config.n_users.div_ceil(BLOCK_USERS)
    }

    /// Block `index` (`index < n_blocks`).
    pub fn block(&self, index: u32) -> EventBlock {
        let first_user = index * BLOCK_USERS;
        let end = (first_user + BLOCK_USERS).min(self.world.config.n_users);
        let events = (first_user..end)
            .flat_map(|u| self.user_events(u))
            .collect();
        EventBlock {
            index,
            first_user,
            n_users: end - first_user,
            events,
        }
    }

    /// All blocks in order, generated on the calling thread.
    pub fn blocks(&self) -> impl Iterator<Item = EventBlock> + '_ {
        (0..self.n_blocks()).map(|b| self.block(b))
    }

    /// Generates all blocks on `config.threads` worker threads and hands them to `sink` in
    /// block order on the calling thread, so the sink sees exactly what [`Generator::blocks`]
    /// yields. At most a few batches are in flight, so memory stays bounded whatever the
    /// number of events. Stops at the sink's first error and returns it.
    pub fn for_each_block<E>(
        &self,
        mut sink: impl FnMut(EventBlock) -> Result<(), E>,
    ) -> Result<GenStats, E> {
        let threads = match self.world.config.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        // A batch keeps every worker busy while the sink drains the previous one.
        let batch = (4 * threads) as u32;
        let n_blocks = self.n_blocks();
        let mut stats = GenStats::default();
        std::thread::scope(|scope| {
            let (tx, rx) = sync_channel::<Vec<EventBlock>>(1);
            scope.spawn(move || {
                let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
                    Ok(pool) => pool,
                    Err(_) => {
                        // No threads to be had: generate on this one (same output, slower).
                        for b in 0..n_blocks {
                            if tx.send(vec![self.block(b)]).is_err() {
                                return;
                            }
                        }
                        return;
                    }
                };
                for start in (0..n_blocks).step_by(batch as usize) {
                    let end = (start + batch).min(n_blocks);
                    let blocks: Vec<EventBlock> = pool.install(|| {
                        (start..end)
                            .into_par_iter()
                            .map(|b| self.block(b))
                            .collect()
                    });
                    // The receiver is gone only when the sink failed: stop generating.
                    if tx.send(blocks).is_err() {
                        return;
                    }
                }
            });
            for blocks in rx {
                for block in blocks {
                    stats.add(&block.events);
                    sink(block)?;
                }
            }
            Ok(stats)
        })
    }

    /// The latent truth of item `idx`.
    pub fn item_truth(&self, idx: u32) -> ItemTruth {
        let i = idx as usize;
        ItemTruth {
            category: self.world.item_category[i],
            popularity: self.world.item_popularity[i],
            created_at_ms: self.world.item_created_ms[i],
            vector: self.world.item_vector(idx).to_vec(),
        }
    }

    /// The latent truth of user `idx`.
    pub fn user_truth(&self, idx: u32) -> UserTruth {
        let profile = Profile::draw(&self.world, idx);
        UserTruth {
            favourite_categories: profile.favourites,
            vector: profile.vector,
            propensity: profile.propensity,
            n_events: self.world.activity[idx as usize],
        }
    }

    /// The categories sessions on `device` (an event's `context.device`: `mobile`, `desktop`
    /// or `tablet`) favour, sorted; `None` for a device the generator does not use.
    pub fn device_favoured_categories(&self, device: &str) -> Option<&[u32]> {
        let d = DEVICES.iter().position(|(name, _)| *name == device)?;
        Some(self.world.devices.favoured(d))
    }

    /// The name of category `c`, as written in items and user interests.
    pub fn category_name(&self, c: u32) -> String {
        category_name(c as usize)
    }

    /// The external id of user `idx`.
    pub fn user_id(idx: u32) -> UserId {
        user_id(idx)
    }

    /// The external id of item `idx`.
    pub fn item_id(idx: u32) -> ItemId {
        item_id(idx)
    }

    /// The index behind a generated item id (`i42` → 42), if it is one.
    pub fn item_index(id: &ItemId) -> Option<u32> {
        parse_index(id.as_str(), 'i')
    }

    /// The index behind a generated user id (`u42` → 42), if it is one.
    pub fn user_index(id: &UserId) -> Option<u32> {
        parse_index(id.as_str(), 'u')
    }
}

fn parse_index(id: &str, prefix: char) -> Option<u32> {
    let digits = id.strip_prefix(prefix)?;
    if digits.starts_with('+') || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    digits.parse().ok()
}

/// Calibrates the kind model on the draws of evenly spaced pilot users.
fn calibrate(world: &World) -> KindModel {
    let n_users = world.config.n_users;
    let n_pilot = n_users.min(PILOT_USERS);
    let pilot: Vec<(f32, f32)> = (0..n_pilot)
        .into_par_iter()
        .flat_map_iter(|k| {
            let idx = (k as u64 * n_users as u64 / n_pilot as u64) as u32;
            let profile = Profile::draw(world, idx);
            let propensity = profile.propensity;
            draws(world, &profile, idx)
                .into_iter()
                .filter(|d| d.item.is_some())
                .map(move |d| (d.affinity, propensity))
        })
        .collect();
    KindModel::calibrate(&pilot)
}
