//! The seam between the sans-IO core and the network: a request value, a
//! response with a streamed body, and the [`Transport`] trait that `http.rs`
//! implements with `wasi:http`.

use std::rc::Rc;

use crate::classify::NetworkFailure;
use crate::error::{Error, Result};
use crate::url::canonical_query;

/// One HTTP request, fully described; the body travels separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `PUT`, `POST`, `HEAD` or `DELETE`.
    pub method: &'static str,
    /// HTTPS when true.
    pub secure: bool,
    /// `host[:port]`, exactly as signed and sent.
    pub authority: String,
    /// Percent-encoded path.
    pub path: String,
    /// Query parameters, not encoded.
    pub query: Vec<(String, String)>,
    /// Headers, `host` excluded (the transport derives it from `authority`).
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The path and the canonical (sorted, encoded) query: sending the query
    /// in canonical form means the server sees exactly what was signed.
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, canonical_query(&self.query))
        }
    }

    /// The full URL.
    pub fn url(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.path_and_query())
    }

    /// Adds a header.
    pub fn header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.push((name.to_owned(), value.into()));
    }
}

/// A response whose body is read on demand.
pub struct Response<B> {
    /// HTTP status.
    pub status: u16,
    /// Headers with lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body stream.
    pub body: B,
}

impl<B> Response<B> {
    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The most [`Response::discard_body`] reads before giving the connection up.
const DISCARD_LIMIT: usize = 64 * 1024;

impl<B: Body> Response<B> {
    /// Reads the rest of a small reply body and drops it. A connection
    /// whose reply was not read to its end cannot carry another request: the
    /// host closes it and the next request pays for a new one (radosgw sends
    /// a 416's error body after its head, so it is still on the way).
    pub fn discard_body(mut self) {
        let _ = self.body.read_to_end(DISCARD_LIMIT);
    }
}

/// One piece of a request body made while the body is sent (a signed
/// chunk): bytes of its own around bytes borrowed from the caller's body.
#[derive(Debug)]
pub struct BodyPiece<'a> {
    /// Written first (a chunk's size and signature).
    pub head: Vec<u8>,
    /// The body's own bytes.
    pub data: &'a [u8],
    /// Written last.
    pub tail: &'static [u8],
}

/// The smallest read of a body whose length is unknown or already
/// reached (a `wasi:http` read returns at most what the host holds).
const MIN_READ: usize = 64 * 1024;
/// The largest read: one host call per MiB of a body is few enough, and a
/// read's bytes are copied once more into the caller's buffer.
const MAX_READ: usize = 1024 * 1024;
/// The most a reply's `Content-Length` reserves before its bytes arrive.
const MAX_RESERVE: usize = 1 << 30;

/// A response body.
pub trait Body {
    /// Up to `max` next bytes; empty means the end.
    fn read(&mut self, max: usize) -> Result<Vec<u8>>;

    /// The rest of the body, refusing more than `limit` bytes.
    fn read_to_end(&mut self, limit: usize) -> Result<Vec<u8>> {
        self.read_to_end_expecting(limit, None)
    }

    /// The rest of the body, refusing more than `limit` bytes, with room for
    /// `expected` bytes (the reply's `Content-Length`) taken up front: a
    /// large body is then neither copied again each time its buffer
    /// doubles nor read in small pieces. A length the memory cannot hold,
    /// or a lie, costs only the reservation that failed.
    fn read_to_end_expecting(&mut self, limit: usize, expected: Option<u64>) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(n) = expected {
            let n = n.min(limit as u64).min(MAX_RESERVE as u64) as usize;
            let _ = out.try_reserve_exact(n);
        }
        loop {
            let room = out.capacity() - out.len();
            let chunk = self.read(room.clamp(MIN_READ, MAX_READ))?;
            if chunk.is_empty() {
                return Ok(out);
            }
            if out.len() + chunk.len() > limit {
                return Err(Error::MalformedResponse(format!(
                    "reply body larger than {limit} bytes"
                )));
            }
            out.extend_from_slice(&chunk);
        }
    }
}

/// Network timeouts of every request, handed to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection (`connecttimeout`, default 10 s).
    pub connect: std::time::Duration,
    /// From the request's end to the response head (`firstbytetimeout`,
    /// default 60 s; S3 answers slow operations early and streams the rest).
    pub first_byte: std::time::Duration,
    /// Between two pieces of the response body (`betweenbytestimeout`,
    /// default 60 s).
    pub between_bytes: std::time::Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: std::time::Duration::from_secs(10),
            first_byte: std::time::Duration::from_secs(60),
            between_bytes: std::time::Duration::from_secs(60),
        }
    }
}

/// Sends requests. The component's implementation is `http::WasiHttp`.
pub trait Transport {
    /// The body type of responses.
    type Body: Body;

    /// Applies `timeouts` to every later request.
    fn set_timeouts(&mut self, timeouts: Timeouts) {
        let _ = timeouts;
    }

    /// Sends `request` with `body` and waits for the response head.
    fn send(&self, request: &Request, body: &[u8]) -> Result<Response<Self::Body>>;

    /// Sends `request` with a body made of `pieces`, each produced only once
    /// the host has taken the ones before it, so producing piece k+1 (hashing
    /// and signing a chunk) overlaps with the host sending piece k. The
    /// request's `content-length` header gives the body's total length.
    /// This default gathers the pieces and sends them as one body.
    fn send_pieces(
        &self,
        request: &Request,
        pieces: &mut dyn Iterator<Item = BodyPiece<'_>>,
    ) -> Result<Response<Self::Body>> {
        let mut body = Vec::new();
        for p in pieces {
            body.extend_from_slice(&p.head);
            body.extend_from_slice(p.data);
            body.extend_from_slice(p.tail);
        }
        self.send(request, &body)
    }

    /// A request under way, started by [`Self::begin`].
    type Pending;

    /// Sends `request`'s head and returns at once; the body is handed to the
    /// host by [`Self::drive`], so several requests can be under way at once
    /// (parallel part uploads, multipart copies).
    fn begin(&self, request: &Request, body: Rc<Vec<u8>>) -> Result<Self::Pending>;

    /// Hands body bytes to the host until every body in `pending` has been
    /// handed over (so none stalls while the caller is away), then, with
    /// `wait`, until at least one reply head is ready. Returns the indices of
    /// the requests whose reply is ready.
    fn drive(&self, pending: &mut [&mut Self::Pending], wait: bool) -> Vec<usize>;

    /// The reply of a request that [`Self::drive`] reported ready.
    fn complete(&self, pending: Self::Pending) -> Result<Response<Self::Body>>;

    /// Sends every bodiless request with at most `limit` in flight at once;
    /// the results come back in the requests' order.
    fn send_many(&self, requests: &[Request], limit: usize) -> Vec<Result<Response<Self::Body>>> {
        let empty = Rc::new(Vec::new());
        let mut results: Vec<Option<Result<Response<Self::Body>>>> =
            requests.iter().map(|_| None).collect();
        let mut next = 0;
        let mut flying: Vec<(usize, Self::Pending)> = Vec::new();
        while next < requests.len() || !flying.is_empty() {
            while next < requests.len() && flying.len() < limit.max(1) {
                match self.begin(&requests[next], empty.clone()) {
                    Ok(p) => flying.push((next, p)),
                    Err(e) => results[next] = Some(Err(e)),
                }
                next += 1;
            }
            if flying.is_empty() {
                continue;
            }
            let mut ready = {
                let mut refs: Vec<&mut Self::Pending> = flying.iter_mut().map(|(_, p)| p).collect();
                self.drive(&mut refs, true)
            };
            // Remove from the back so earlier indices stay valid.
            ready.sort_unstable_by(|a, b| b.cmp(a));
            for i in ready {
                let (index, pending) = flying.swap_remove(i);
                results[index] = Some(self.complete(pending));
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Error::network(NetworkFailure::Other, "request never sent"))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body handing out `data` in reads of at most `max` bytes, keeping
    /// each `max` it was asked for.
    struct Pieces {
        data: Vec<u8>,
        asked: Vec<usize>,
    }

    impl Body for Pieces {
        fn read(&mut self, max: usize) -> Result<Vec<u8>> {
            self.asked.push(max);
            let n = max.min(self.data.len());
            Ok(self.data.drain(..n).collect())
        }
    }

    fn body(len: usize) -> Pieces {
        Pieces {
            data: (0..len).map(|i| i as u8).collect(),
            asked: Vec::new(),
        }
    }

    #[test]
    fn a_known_length_is_reserved_once_and_read_in_large_pieces() {
        let len = 3 * MAX_READ + 5;
        let mut b = body(len);
        let out = b
            .read_to_end_expecting(usize::MAX, Some(len as u64))
            .unwrap();
        assert_eq!(out, body(len).data);
        assert_eq!(out.capacity(), len, "the buffer never grew");
        assert_eq!(b.asked[..4], [MAX_READ, MAX_READ, MAX_READ, MIN_READ]);
    }

    #[test]
    fn an_unknown_or_false_length_still_reads_the_whole_body() {
        let len = MIN_READ * 3 + 1;
        for expected in [None, Some(10), Some(u64::MAX)] {
            let mut b = body(len);
            let out = b.read_to_end_expecting(usize::MAX, expected).unwrap();
            assert_eq!(out, body(len).data, "{expected:?}");
        }
        assert_eq!(body(len).read_to_end(len).unwrap().len(), len);
        assert!(matches!(
            body(len).read_to_end_expecting(len - 1, Some(len as u64)),
            Err(Error::MalformedResponse(_))
        ));
    }
}
