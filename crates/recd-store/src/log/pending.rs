//! `PendingAppend`: the handle of an append that was handed to a log but not yet acknowledged.
//!
//! One type serves both kinds of callers: threads call [`PendingAppend::wait`], async code
//! `.await`s it. It is a hand-written one-shot slot (mutex + condvar + waker) rather than a
//! tokio or futures channel so that `recd-store` stays runtime-free: the HTTP layer can await
//! an append on a tokio worker without `spawn_blocking`, and nothing here depends on tokio.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::Offset;
use crate::StoreError;

/// The outcome of one append: the offset of its first record, or why it was not acknowledged.
pub type AppendResult = Result<Offset, StoreError>;

/// An append in flight. Resolves to the offset of the batch's first record once the batch is
/// durable, or to the error that prevented it.
///
/// Dropping it does not cancel the append: the records may still be written, only the
/// acknowledgement is lost (as when a client disconnects after sending).
pub struct PendingAppend {
    state: State,
}

enum State {
    /// Already decided (an error found before queueing, or a backend that appends inline).
    Ready(Option<AppendResult>),
    /// Waiting for the [`AppendCompleter`] to fill the slot.
    Waiting(Arc<Slot>),
}

/// The sending half of a [`PendingAppend`], held by whoever performs the append.
///
/// Dropping it without calling [`AppendCompleter::complete`] resolves the append to
/// [`StoreError::Closed`], so a waiter can never hang on a writer that went away.
pub struct AppendCompleter {
    slot: Option<Arc<Slot>>,
}

struct Slot {
    inner: Mutex<SlotInner>,
    ready: Condvar,
}

#[derive(Default)]
struct SlotInner {
    result: Option<AppendResult>,
    /// The result was taken by the waiter (guards against polling after completion).
    taken: bool,
    waker: Option<Waker>,
}

impl Slot {
    /// Locks the slot. A poisoned lock only means another thread panicked while holding it;
    /// the slot's data is a plain `Option`, still consistent, so we carry on.
    fn lock(&self) -> MutexGuard<'_, SlotInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PendingAppend {
    /// A handle that is already resolved to `result`.
    pub fn ready(result: AppendResult) -> Self {
        Self {
            state: State::Ready(Some(result)),
        }
    }

    /// A linked pair: the backend completes the [`AppendCompleter`], the caller waits on the
    /// [`PendingAppend`].
    pub fn channel() -> (AppendCompleter, PendingAppend) {
        let slot = Arc::new(Slot {
            inner: Mutex::new(SlotInner::default()),
            ready: Condvar::new(),
        });
        (
            AppendCompleter {
                slot: Some(slot.clone()),
            },
            PendingAppend {
                state: State::Waiting(slot),
            },
        )
    }

    /// Blocks the current thread until the append is acknowledged or has failed.
    /// Do not call this on an async runtime's worker thread; `.await` the handle instead.
    pub fn wait(self) -> AppendResult {
        match self.state {
            State::Ready(mut result) => result.take().unwrap_or_else(|| Err(already_taken())),
            State::Waiting(slot) => {
                let mut inner = slot.lock();
                loop {
                    if let Some(result) = inner.result.take() {
                        inner.taken = true;
                        return result;
                    }
                    if inner.taken {
                        return Err(already_taken());
                    }
                    inner = slot.ready.wait(inner).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }
}

/// Reported if a resolved handle is polled again: a caller bug, but not worth a panic.
fn already_taken() -> StoreError {
    StoreError::Closed("this append's result was already taken".into())
}

impl Future for PendingAppend {
    type Output = AppendResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<AppendResult> {
        // `PendingAppend` holds no self-references, so it is `Unpin` and we can use it freely.
        let this = self.get_mut();
        match &mut this.state {
            State::Ready(result) => {
                Poll::Ready(result.take().unwrap_or_else(|| Err(already_taken())))
            }
            State::Waiting(slot) => {
                let mut inner = slot.lock();
                if let Some(result) = inner.result.take() {
                    inner.taken = true;
                    return Poll::Ready(result);
                }
                if inner.taken {
                    return Poll::Ready(Err(already_taken()));
                }
                match &inner.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => inner.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl AppendCompleter {
    /// Resolves the paired [`PendingAppend`] with `result` and wakes its waiter.
    pub fn complete(mut self, result: AppendResult) {
        self.fill(result);
    }

    fn fill(&mut self, result: AppendResult) {
        let Some(slot) = self.slot.take() else { return };
        let waker = {
            let mut inner = slot.lock();
            inner.result = Some(result);
            inner.waker.take()
        };
        slot.ready.notify_all();
        // Wake outside the lock: the woken task may poll at once on another thread.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for AppendCompleter {
    fn drop(&mut self) {
        self.fill(Err(StoreError::Closed(
            "the log stopped before acknowledging this append".into(),
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    #[test]
    fn wait_returns_what_the_completer_sent_from_another_thread() {
        let (done, pending) = PendingAppend::channel();
        let t = std::thread::spawn(move || done.complete(Ok(42)));
        assert_eq!(pending.wait().unwrap(), 42);
        t.join().unwrap();
    }

    #[test]
    fn a_dropped_completer_resolves_to_closed() {
        let (done, pending) = PendingAppend::channel();
        drop(done);
        assert!(matches!(pending.wait(), Err(StoreError::Closed(_))));
    }

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn polling_registers_the_waker_and_completion_wakes_it() {
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let (done, mut pending) = PendingAppend::channel();
        assert!(Pin::new(&mut pending).poll(&mut cx).is_pending());
        done.complete(Ok(7));
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        match Pin::new(&mut pending).poll(&mut cx) {
            Poll::Ready(Ok(7)) => {}
            other => panic!("expected Ready(Ok(7)), got {:?}", other.map(|r| r.is_ok())),
        }
        // Polling again after completion is a caller bug: an error, not a panic or a hang.
        assert!(matches!(
            Pin::new(&mut pending).poll(&mut cx),
            Poll::Ready(Err(StoreError::Closed(_)))
        ));
    }
}
