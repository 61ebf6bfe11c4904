//! Reading reply bodies whole or as a stream, never silently short: a body
//! that ends before its `Content-Length` is a (retryable) network failure.

use crate::classify::NetworkFailure;
use crate::error::{Error, Result};
use crate::transport::{Body, Response};

/// A streamed object body; `None` when the offset was at or past the end.
pub struct FileReader<B> {
    body: Option<B>,
    /// The reply's Content-Length: a body that ends before it is an error,
    /// never a silently short file.
    expected: Option<u64>,
    received: u64,
}

impl<B: Body> FileReader<B> {
    /// A reader of `resp`'s body.
    pub fn new(resp: Response<B>) -> Self {
        Self {
            expected: content_length(&resp),
            received: 0,
            body: Some(resp.body),
        }
    }

    /// A reader that is already at its end.
    pub fn empty() -> Self {
        Self {
            body: None,
            expected: None,
            received: 0,
        }
    }

    /// Up to `max` next bytes; empty at the end.
    pub fn read(&mut self, max: usize) -> Result<Vec<u8>> {
        let Some(b) = &mut self.body else {
            return Ok(Vec::new());
        };
        let chunk = match b.read(max.max(1)) {
            Ok(c) => c,
            Err(e) => {
                self.body = None;
                return Err(e);
            }
        };
        self.received += chunk.len() as u64;
        if chunk.is_empty() {
            self.body = None;
            if let Some(expected) = self.expected
                && self.received < expected
            {
                return Err(short_body(self.received, expected));
            }
        }
        Ok(chunk)
    }
}

/// The error of a body that ended early.
pub fn short_body(received: u64, expected: u64) -> Error {
    Error::network(
        NetworkFailure::Incomplete,
        format!("response ended early: {received} of {expected} bytes"),
    )
}

/// The Content-Length of a reply, if it has a valid one.
pub fn content_length<B>(resp: &Response<B>) -> Option<u64> {
    resp.header("content-length")
        .and_then(|v| v.trim().parse().ok())
}

/// The whole body, refusing more than `limit` bytes; it must be as long as
/// the reply said.
pub fn read_exactly<B: Body>(resp: &mut Response<B>, limit: usize) -> Result<Vec<u8>> {
    let expected = content_length(resp);
    let body = resp.body.read_to_end_expecting(limit, expected)?;
    match expected {
        Some(n) if (body.len() as u64) < n => Err(short_body(body.len() as u64, n)),
        _ => Ok(body),
    }
}
