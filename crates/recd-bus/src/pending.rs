//! The answer to an append, shared by every bus: resolved once the records are durable.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::{BusError, Position};

/// The answer to an append: the records' positions, in the order given, once durable. Can be
/// `.await`ed on any runtime, or waited on with [`PendingPositions::wait`] outside one.
pub struct PendingPositions(pub(crate) Inner);

pub(crate) enum Inner {
    Ready(Option<Result<Vec<Position>, BusError>>),
    Waiting(oneshot::Receiver<Result<Vec<Position>, BusError>>),
}

impl PendingPositions {
    pub(crate) fn ready(result: Result<Vec<Position>, BusError>) -> Self {
        Self(Inner::Ready(Some(result)))
    }

    /// Blocks until the append is decided. Not for async code (it blocks the thread).
    pub fn wait(self) -> Result<Vec<Position>, BusError> {
        match self.0 {
            Inner::Ready(r) => r.unwrap_or(Err(BusError::Closed)),
            Inner::Waiting(rx) => rx.blocking_recv().unwrap_or(Err(BusError::Closed)),
        }
    }
}

impl Future for PendingPositions {
    type Output = Result<Vec<Position>, BusError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            Inner::Ready(r) => Poll::Ready(r.take().unwrap_or(Err(BusError::Closed))),
            Inner::Waiting(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(BusError::Closed))),
        }
    }
}
