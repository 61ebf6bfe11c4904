//! Counts reply bodies dropped before their end. hyper cannot reuse a
//! connection whose reply was left unread while bytes were still on the way,
//! so each such drop may cost the next request a new connection; the count
//! shows an operator (and the tests) whether replies are read through.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use wasmtime_wasi_http::Error as HttpError;

use super::pool::Counters;

type Inner = http_body_util::combinators::UnsyncBoxBody<Bytes, HttpError>;

/// A reply body that adds one to [`Counters::abandoned`] when it is dropped
/// before it ended or failed.
pub(crate) struct CountAbandoned {
    inner: Inner,
    counters: Arc<Counters>,
    /// Ended, failed, or known empty: nothing left to lose.
    settled: bool,
}

impl CountAbandoned {
    pub(crate) fn new(inner: Inner, counters: Arc<Counters>) -> Self {
        let settled = inner.is_end_stream();
        Self {
            inner,
            counters,
            settled,
        }
    }
}

impl Body for CountAbandoned {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None | Some(Err(_))) => this.settled = true,
            Poll::Ready(Some(Ok(_))) => this.settled = this.inner.is_end_stream(),
            Poll::Pending => {}
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

impl Drop for CountAbandoned {
    fn drop(&mut self) {
        if !self.settled && !self.inner.is_end_stream() {
            self.counters.abandoned.fetch_add(1, Ordering::Relaxed);
        }
    }
}
