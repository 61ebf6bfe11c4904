//! Faults the host's HTTP hook can inject into a driver's requests, for tests
//! and drills: the guest sees exactly what a failing network or server would
//! give it, and nothing in the guest is faked. Also the body wrapper that
//! applies the guest's between-bytes timeout.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use wasmtime_wasi_http::Error as HttpError;

/// What an injected fault does to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Fails as if the connection were refused; nothing is sent.
    Refuse,
    /// Waits this long, then sends the request (past the first-byte timeout
    /// it becomes a timeout).
    Delay(Duration),
    /// Reads the request, then answers `status` with an S3 XML error `code`;
    /// the server never sees it.
    Status {
        /// HTTP status.
        status: u16,
        /// S3 error code (`SlowDown`, `InternalError`...).
        code: String,
    },
    /// The connection breaks after `n` bytes of the request body.
    ResetRequestAfter(usize),
    /// The connection breaks after `n` bytes of the response body.
    ResetResponseAfter(usize),
    /// The response body ends cleanly after `n` bytes, short of its
    /// Content-Length.
    TruncateResponse(usize),
    /// The response body stops after `n` bytes and never goes on (a server
    /// that hangs mid-reply).
    StallResponseAfter(usize),
    /// The response keeps its status and headers but its body is replaced
    /// (malformed or empty XML).
    ReplaceBody(Vec<u8>),
}

/// A fault for the requests that match: method, a path substring, and
/// optionally only the n-th match (1-based).
#[derive(Debug, Clone)]
pub struct FaultRule {
    /// Only requests with this method (`GET`, `PUT`...); `None` for any.
    pub method: Option<String>,
    /// Only requests whose path and query contain this.
    pub path_contains: Option<String>,
    /// Only the n-th matching request; `None` for every one.
    pub nth: Option<u64>,
    /// What happens to it.
    pub fault: Fault,
    seen: u64,
}

impl FaultRule {
    /// `fault` for every request.
    pub fn every(fault: Fault) -> Self {
        Self {
            method: None,
            path_contains: None,
            nth: None,
            fault,
            seen: 0,
        }
    }

    /// Only requests with `method`.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_owned());
        self
    }

    /// Only requests whose path and query contain `part`.
    pub fn path_contains(mut self, part: &str) -> Self {
        self.path_contains = Some(part.to_owned());
        self
    }

    /// Only the n-th matching request (1-based).
    pub fn nth(mut self, n: u64) -> Self {
        self.nth = Some(n);
        self
    }

    /// The fault for `request` if it matches (and counts the match).
    pub(crate) fn take<B>(&mut self, request: &http::Request<B>) -> Option<Fault> {
        if self
            .method
            .as_deref()
            .is_some_and(|m| !request.method().as_str().eq_ignore_ascii_case(m))
        {
            return None;
        }
        let pq = request.uri().path_and_query().map_or("", |p| p.as_str());
        if self
            .path_contains
            .as_deref()
            .is_some_and(|p| !pq.contains(p))
        {
            return None;
        }
        self.seen += 1;
        match self.nth {
            Some(n) if n != self.seen => None,
            _ => Some(self.fault.clone()),
        }
    }
}

type Inner = http_body_util::combinators::UnsyncBoxBody<Bytes, HttpError>;

/// A body that stops after `limit` bytes: with an error (a reset) or cleanly
/// (a truncation).
/// What [`FaultBody`] does when its limit is reached.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    Reset,
    End,
    Stall,
}

pub(crate) struct FaultBody {
    inner: Inner,
    left: usize,
    stop: Stop,
    done: bool,
}

impl FaultBody {
    fn new(inner: Inner, left: usize, stop: Stop) -> Self {
        Self {
            inner,
            left,
            stop,
            done: false,
        }
    }

    pub(crate) fn reset_after(inner: Inner, limit: usize) -> Self {
        Self::new(inner, limit, Stop::Reset)
    }

    pub(crate) fn truncate_after(inner: Inner, limit: usize) -> Self {
        Self::new(inner, limit, Stop::End)
    }

    pub(crate) fn stall_after(inner: Inner, limit: usize) -> Self {
        Self::new(inner, limit, Stop::Stall)
    }

    fn stop(&mut self) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match self.stop {
            // Never woken: only a timeout (or the guest giving up) ends it.
            Stop::Stall => Poll::Pending,
            Stop::Reset => {
                self.done = true;
                Poll::Ready(Some(Err(HttpError::ConnectionTerminated)))
            }
            Stop::End => {
                self.done = true;
                Poll::Ready(None)
            }
        }
    }
}

impl Body for FaultBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if this.left == 0 {
            return this.stop();
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    if data.len() >= this.left {
                        data.truncate(this.left);
                    }
                    this.left -= data.len();
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            // The real body ended before the limit: nothing to break.
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Fails a body that goes quiet for longer than the guest's between-bytes
/// timeout.
pub(crate) struct BetweenBytes {
    inner: Inner,
    timeout: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    /// The clock runs only while the guest waits for data, not while it
    /// leaves the body unread.
    waiting: bool,
}

impl BetweenBytes {
    pub(crate) fn new(inner: Inner, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            sleep: Box::pin(tokio::time::sleep(timeout)),
            waiting: false,
        }
    }
}

impl Body for BetweenBytes {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(r) => {
                this.waiting = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if !this.waiting {
                    this.waiting = true;
                    let deadline = tokio::time::Instant::now() + this.timeout;
                    this.sleep.as_mut().reset(deadline);
                }
                match this.sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
