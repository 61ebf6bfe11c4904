//! Faults the host's HTTP hook can inject into a driver's requests, for tests
//! and drills (feature `test-hooks`): the guest sees exactly what a failing
//! network or server would give it, and nothing in the guest is faked.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

use super::between_bytes::BetweenBytes;
use super::pool::Counters;
use super::{Sent, done};

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
    /// The request body's byte at this offset is flipped on the way (after
    /// the guest signed it): what a faulty network or proxy does.
    CorruptRequestBody(usize),
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
    /// Only requests carrying this header (name, exact value).
    pub header: Option<(String, String)>,
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
            header: None,
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

    /// Only requests whose header `name` is `value` (an `aws-chunked`
    /// body, a checksum algorithm).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.header = Some((name.to_owned(), value.to_owned()));
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
        if let Some((name, value)) = &self.header
            && request
                .headers()
                .get(name.as_str())
                .is_none_or(|v| v.as_bytes() != value.as_bytes())
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

/// What the hook does with a request after the faults had their say.
pub(crate) enum Plan {
    /// A fault answered (or failed) it; the server never sees it.
    Answered(Sent),
    /// Send it, maybe late, and maybe break its reply.
    Send(Sending),
}

/// A request to send with the faults that apply to it.
pub(crate) struct Sending {
    pub(crate) request: http::Request<WasiBody>,
    pub(crate) delay: Duration,
    pub(crate) on_reply: Option<Fault>,
}

/// Applies the first matching rule's fault to a request about to be sent.
pub(crate) async fn before_send(
    rules: &std::sync::Mutex<Vec<FaultRule>>,
    counters: &Counters,
    request: http::Request<WasiBody>,
) -> Plan {
    let fault = rules
        .lock()
        .unwrap()
        .iter_mut()
        .find_map(|f| f.take(&request));
    let mut sending = Sending {
        request,
        delay: Duration::ZERO,
        on_reply: None,
    };
    match fault {
        Some(Fault::Refuse) => {
            counters
                .failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Plan::Answered(Err(HttpError::ConnectionRefused));
        }
        Some(Fault::Delay(d)) => sending.delay = d,
        Some(Fault::Status { status, code }) => {
            // Like a server that reads the request, then refuses it.
            let _ = sending.request.into_body().collect().await;
            counters.count_status(status);
            return Plan::Answered(Ok((s3_error_reply(status, &code), done())));
        }
        Some(Fault::ResetRequestAfter(n)) => {
            sending.request = sending
                .request
                .map(|b| FaultBody::reset_after(b, n).boxed_unsync());
        }
        Some(Fault::CorruptRequestBody(at)) => {
            let mut offset = 0usize;
            sending.request = sending.request.map(|b| {
                b.map_frame(move |frame| match frame.into_data() {
                    Ok(data) => {
                        let start = offset;
                        offset += data.len();
                        if (start..offset).contains(&at) {
                            let mut bytes = data.to_vec();
                            bytes[at - start] ^= 0x01;
                            Frame::data(Bytes::from(bytes))
                        } else {
                            Frame::data(data)
                        }
                    }
                    Err(frame) => frame,
                })
                .boxed_unsync()
            });
        }
        Some(reply) => sending.on_reply = Some(reply),
        None => {}
    }
    Plan::Send(sending)
}

/// Breaks a real reply as `fault` says.
pub(crate) fn after_reply(
    fault: Option<Fault>,
    mut response: http::Response<WasiBody>,
    timeouts: &RequestOptions,
) -> http::Response<WasiBody> {
    match fault {
        Some(Fault::ResetResponseAfter(n)) => {
            response = response.map(|b| FaultBody::reset_after(b, n).boxed_unsync());
        }
        Some(Fault::TruncateResponse(n)) => {
            response = response.map(|b| FaultBody::truncate_after(b, n).boxed_unsync());
        }
        Some(Fault::StallResponseAfter(n)) => {
            // Under the between-bytes timer, which then fires.
            response = response.map(|b| FaultBody::stall_after(b, n).boxed_unsync());
            if let Some(between) = timeouts.between_bytes_timeout {
                response = response.map(|b| BetweenBytes::new(b, between).boxed_unsync());
            }
        }
        Some(Fault::ReplaceBody(bytes)) => {
            let (mut parts, _) = response.into_parts();
            parts.headers.insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from(bytes.len()),
            );
            let body = http_body_util::Full::new(Bytes::from(bytes))
                .map_err(|never| match never {})
                .boxed_unsync();
            response = http::Response::from_parts(parts, body);
        }
        _ => {}
    }
    response
}

/// An S3 error reply made by the hook: the XML body a real server sends.
fn s3_error_reply(status: u16, code: &str) -> http::Response<WasiBody> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>injected by the host</Message><RequestId>fault-injection</RequestId></Error>"
    );
    http::Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .header("content-length", body.len())
        .header("x-amz-request-id", "fault-injection")
        .body(
            http_body_util::Full::new(Bytes::from(body))
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .expect("a valid response")
}
