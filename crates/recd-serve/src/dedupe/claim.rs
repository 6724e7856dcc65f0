//! One claim protocol over either window: claim a batch's ids (waiting while another request
//! appends one of them), then complete them with their offsets, or release them by dropping
//! the guard (an append that failed, a request that ended).

use std::sync::Arc;
use std::time::Duration;

use recd_bus::{SharedClaim, SharedDedupe};
use recd_store::Offset;

use super::{Claimed, DedupeWindow};
use crate::ApiError;

/// How long a request waits, at most, between looks at an id another request of this process
/// is appending (it is woken at once when that append settles).
const LOCAL_POLL: Duration = Duration::from_millis(50);
/// The same for an id another process is appending: nothing wakes this one, so it looks
/// again soon (an append takes a few milliseconds).
const SHARED_POLL: Duration = Duration::from_millis(5);

/// The dedupe window of this server: its own, or its fleet's. See the module docs.
#[derive(Clone)]
pub enum Dedupe {
    /// This process's window (the embedded log: one process ingests).
    Local(Arc<DedupeWindow>),
    /// The fleet's window on Redis (a bus: any API process may get a retry).
    Shared(Arc<SharedDedupe>),
}

/// An event's place in the window: its partition (the bus's; 0 for the embedded log) and id.
pub(crate) type IdAt = (u32, String);

impl Dedupe {
    /// Claims the ids of a batch (`ids[i]`: event i's, if it has one), waiting while another
    /// request appends one of them. Returns the guard over the ids now claimed, and the
    /// positions in the batch of those already durable, with their offsets.
    pub(crate) async fn claim(
        &self,
        ids: Vec<Option<IdAt>>,
    ) -> Result<(ClaimGuard, Vec<(usize, Offset)>), ApiError> {
        // Only the fleet's window tells its claims apart by token.
        let token = match self {
            Dedupe::Local(_) => String::new(),
            Dedupe::Shared(_) => SharedDedupe::token(),
        };
        let (fresh, seen) = loop {
            let claimed = match self {
                Dedupe::Local(w) => {
                    let refs: Vec<Option<&str>> = ids
                        .iter()
                        .map(|i| i.as_ref().map(|(_, id)| id.as_str()))
                        .collect();
                    match w.claim(&refs, now_ms()) {
                        Claimed::Ready { fresh, seen } => Some((fresh, seen)),
                        Claimed::Busy => {
                            w.settled(LOCAL_POLL).await;
                            None
                        }
                    }
                }
                Dedupe::Shared(w) => {
                    let (w, ids, token) = (w.clone(), ids.clone(), token.clone());
                    let claim = tokio::task::spawn_blocking(move || {
                        let refs: Vec<Option<(u32, &str)>> = ids
                            .iter()
                            .map(|i| i.as_ref().map(|(p, id)| (*p, id.as_str())))
                            .collect();
                        w.claim(&refs, &token, now_ms())
                    })
                    .await
                    .map_err(|e| ApiError::Internal(format!("dedupe claim task: {e}")))?
                    .map_err(unavailable)?;
                    match claim {
                        SharedClaim::Ready { fresh, seen } => Some((fresh, seen)),
                        SharedClaim::Busy => {
                            tokio::time::sleep(SHARED_POLL).await;
                            None
                        }
                    }
                }
            };
            if let Some(ready) = claimed {
                break ready;
            }
        };
        let claimed = fresh
            .iter()
            .filter_map(|&pos| Some((pos, ids[pos].clone()?)))
            .collect();
        let guard = ClaimGuard {
            dedupe: self.clone(),
            token,
            claimed,
        };
        Ok((guard, seen))
    }
}

/// Claimed ids that are released on drop unless completed, so a request that ends between
/// its claim and its append (an error, a panic) never leaves them pending.
pub(crate) struct ClaimGuard {
    dedupe: Dedupe,
    token: String,
    /// Batch position and id of each claimed event.
    claimed: Vec<(usize, IdAt)>,
}

impl ClaimGuard {
    /// The claimed ids are durable: `offset_at(pos)` is the offset of the batch's event at
    /// `pos`. A shared window that cannot be told is logged, not an error: the append is
    /// durable and acknowledged; the ids lapse after the pending time, so a later retry
    /// of them would be appended again.
    pub(crate) async fn complete(mut self, offset_at: impl Fn(usize) -> Offset) {
        let claimed = std::mem::take(&mut self.claimed);
        let now = now_ms();
        match &self.dedupe {
            Dedupe::Local(w) => {
                let ids: Vec<&str> = claimed.iter().map(|(_, (_, id))| id.as_str()).collect();
                let offsets: Vec<Offset> = claimed.iter().map(|(pos, _)| offset_at(*pos)).collect();
                w.complete(&ids, &offsets, now);
            }
            Dedupe::Shared(w) => {
                let done: Vec<(u32, String, Offset)> = claimed
                    .into_iter()
                    .map(|(pos, (p, id))| (p, id, offset_at(pos)))
                    .collect();
                let (w, token) = (w.clone(), std::mem::take(&mut self.token));
                let told = tokio::task::spawn_blocking(move || {
                    let refs: Vec<(u32, &str, Offset)> = done
                        .iter()
                        .map(|(p, id, o)| (*p, id.as_str(), *o))
                        .collect();
                    w.complete(&refs, &token, now)
                })
                .await;
                if let Ok(Err(e)) = told {
                    tracing::warn!(error = %e, "appended events not recorded in the shared dedupe window");
                }
            }
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if self.claimed.is_empty() {
            return;
        }
        let claimed = std::mem::take(&mut self.claimed);
        match &self.dedupe {
            Dedupe::Local(w) => {
                let ids: Vec<&str> = claimed.iter().map(|(_, (_, id))| id.as_str()).collect();
                w.release(&ids);
            }
            Dedupe::Shared(w) => {
                let (w, token) = (w.clone(), std::mem::take(&mut self.token));
                let release = move || {
                    let ids: Vec<(u32, &str)> = claimed
                        .iter()
                        .map(|(_, (p, id))| (*p, id.as_str()))
                        .collect();
                    if let Err(e) = w.release(&ids, &token) {
                        // They lapse by themselves after the pending time.
                        tracing::warn!(error = %e, "dedupe claims not released");
                    }
                };
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn_blocking(release);
                } else {
                    release();
                }
            }
        }
    }
}

/// The shared window's Redis did not answer: nothing was appended, the client retries.
fn unavailable(e: recd_bus::BusError) -> ApiError {
    ApiError::NotDurable(format!("the shared dedupe window is unavailable: {e}"))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
