//! Counts reply bodies dropped before their end. hyper cannot reuse a
//! connection whose reply was left unread while bytes were still on the way,
//! so each such drop may cost the next request a new connection; the count
//! shows an operator (and the tests) whether replies are read through.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};

use super::pool::Counters;

/// A reply body that adds one to [`Counters::abandoned`] when it is dropped
/// before it ended or failed. It wraps the pool's body directly, so a reply
/// is still boxed only once.
pub(crate) struct CountAbandoned<B: Body> {
    inner: B,
    counters: Arc<Counters>,
    /// Ended or failed: nothing left to lose. A body whose length ran out
    /// says so through `is_end_stream` instead.
    finished: bool,
}

impl<B: Body> CountAbandoned<B> {
    pub(crate) fn new(inner: B, counters: Arc<Counters>) -> Self {
        Self {
            inner,
            counters,
            finished: false,
        }
    }
}

impl<B: Body + Unpin> Body for CountAbandoned<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            this.finished = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body> Drop for CountAbandoned<B> {
    fn drop(&mut self) {
        if !self.finished && !self.inner.is_end_stream() {
            self.counters.abandoned.fetch_add(1, Ordering::Relaxed);
        }
    }
}
