//! The only module that touches `wasi:http`: sends a [`Request`] through the
//! host's outgoing handler and streams the reply body back.
//!
//! Bodies are written with `check-write` + `write` (`blocking-write-and-flush`
//! traps above 4 KiB and is ~10x slower). Host error details are never copied
//! from `to-debug-string`: hosts may put backtraces and file paths there, so
//! failures are described from the typed `error-code` only.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method,
    OutgoingBody, OutgoingRequest, RequestOptions, Scheme, http_error_code,
};
use wasip2::io::poll::{Pollable, poll};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use std::rc::Rc;

use crate::classify::NetworkFailure;
use crate::error::{Error, Result};
use crate::transport::{Body, BodyPiece, Request, Response, Timeouts, Transport};

/// The `wasi:http` transport.
#[derive(Debug, Default, Clone, Copy)]
pub struct WasiHttp {
    timeouts: Timeouts,
}

/// A reply body being read from the host. Field order is drop order: the
/// stream is a child of the body, which is a child of the response.
pub struct WasiBody {
    stream: Option<InputStream>,
    body: Option<IncomingBody>,
    _response: IncomingResponse,
}

/// The kind and a readable sentence of a wasi:http error code.
fn describe(code: &ErrorCode) -> (NetworkFailure, String) {
    use NetworkFailure as F;
    let (failure, text): (F, &str) = match code {
        ErrorCode::DnsError(_) => (F::Dns, "DNS lookup failed"),
        ErrorCode::ConnectionRefused => (F::Refused, "connection refused"),
        ErrorCode::ConnectionTerminated => (F::Reset, "connection closed by the server"),
        ErrorCode::ConnectionTimeout => (F::TimedOut, "connection timed out"),
        ErrorCode::ConnectionReadTimeout => (F::TimedOut, "timed out waiting for the server"),
        ErrorCode::HttpResponseTimeout => (F::TimedOut, "timed out waiting for the response"),
        ErrorCode::HttpRequestDenied => (F::Denied, "request denied by the host's egress policy"),
        ErrorCode::TlsCertificateError => (F::Tls, "TLS certificate rejected"),
        ErrorCode::TlsProtocolError => (F::Tls, "TLS handshake failed"),
        ErrorCode::HttpResponseIncomplete => (F::Incomplete, "response ended early"),
        ErrorCode::InternalError(Some(m)) => {
            // Keep one short line: a host message is not ours to trust.
            let line = m.lines().next().unwrap_or_default();
            let line: String = line.chars().take(200).collect();
            return (F::Other, format!("host error: {line}"));
        }
        other => return (F::Other, format!("{other:?}")),
    };
    (failure, text.to_owned())
}

/// The network error of a wasi:http error code, `what` saying when it happened.
fn network(code: &ErrorCode, what: Option<&str>) -> Error {
    let (failure, text) = describe(code);
    match what {
        Some(w) => Error::network(failure, format!("{w}: {text}")),
        None => Error::network(failure, text),
    }
}

fn stream_failure(e: StreamError, what: &str) -> Error {
    match e {
        StreamError::Closed => {
            Error::network(NetworkFailure::Reset, format!("{what}: connection closed"))
        }
        StreamError::LastOperationFailed(io) => match http_error_code(&io) {
            Some(code) => network(&code, Some(what)),
            None => Error::network(NetworkFailure::Other, format!("{what}: connection failed")),
        },
    }
}

/// Writes all of `data`, waiting for the host to accept each piece, then
/// waits until the host has sent it.
fn write_all(out: &OutputStream, data: &[u8]) -> std::result::Result<(), StreamError> {
    hand_over(out, data)?;
    flushed(out)
}

/// Waits until the host has sent everything written to `out`.
fn flushed(out: &OutputStream) -> std::result::Result<(), StreamError> {
    match out.blocking_flush() {
        // Every byte was accepted; the host may already have sent them all
        // (Content-Length reached) and closed its end.
        Err(StreamError::Closed) => Ok(()),
        other => other,
    }
}

/// Hands all of `data` to the host as fast as it takes it, without waiting
/// for it to be sent: the caller's next work overlaps with the sending.
fn hand_over(out: &OutputStream, data: &[u8]) -> std::result::Result<(), StreamError> {
    let mut offset = 0;
    while offset < data.len() {
        let room = loop {
            let n = out.check_write()?;
            if n > 0 {
                break n as usize;
            }
            out.subscribe().block();
        };
        let end = data.len().min(offset + room);
        out.write(&data[offset..end])?;
        offset = end;
    }
    Ok(())
}

fn method(m: &str) -> Method {
    match m {
        "GET" => Method::Get,
        "PUT" => Method::Put,
        "POST" => Method::Post,
        "HEAD" => Method::Head,
        "DELETE" => Method::Delete,
        other => Method::Other(other.to_owned()),
    }
}

/// A request whose head went out: its body is handed to the host piece by
/// piece, then its reply is awaited. Field order is drop order: pollables
/// and the stream go before the resources they belong to.
pub struct Pending {
    reply_ready: Pollable,
    stream: Option<OutputStream>,
    body: Option<OutgoingBody>,
    data: Rc<Vec<u8>>,
    offset: usize,
    write_error: Option<Error>,
    finished: std::result::Result<(), ErrorCode>,
    future: FutureIncomingResponse,
}

impl Pending {
    /// Writes what the host takes now; true once the body is handed over.
    fn pump(&mut self) -> bool {
        let Some(stream) = &self.stream else {
            return true;
        };
        loop {
            if self.offset == self.data.len() {
                self.close_body();
                return true;
            }
            let written = stream.check_write().and_then(|room| {
                let end = self.data.len().min(self.offset + room as usize);
                if end > self.offset {
                    stream.write(&self.data[self.offset..end])?;
                }
                Ok(end)
            });
            match written {
                Ok(end) if end == self.offset => return false,
                Ok(end) => self.offset = end,
                Err(e) => {
                    self.write_error = Some(stream_failure(e, "sending the request body"));
                    self.close_body();
                    return true;
                }
            }
        }
    }

    /// Ends the body: finished when every byte went, aborted otherwise.
    fn close_body(&mut self) {
        self.stream.take();
        if let Some(body) = self.body.take() {
            self.finished = OutgoingBody::finish(body, None);
        }
    }
}

impl WasiHttp {
    /// Sends the head; the body, if any, is left to the caller.
    fn head(
        &self,
        req: &Request,
        body_len: usize,
    ) -> Result<(FutureIncomingResponse, Option<OutgoingBody>)> {
        let mut fields: Vec<(String, Vec<u8>)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
            .collect();
        // Without a length the body goes out chunked, which S3 servers refuse
        // (411 MissingContentLength), even for an empty DELETE.
        let has_length = req.headers.iter().any(|(k, _)| k == "content-length");
        if !has_length && !matches!(req.method, "GET" | "HEAD") {
            fields.push(("content-length".into(), body_len.to_string().into_bytes()));
        }
        let headers = Fields::from_list(&fields).map_err(|e| {
            // Name the header (never its value: it may be a signature).
            let which = fields
                .iter()
                .find(|f| Fields::from_list(std::slice::from_ref(f)).is_err())
                .map_or("headers (together)".to_owned(), |(k, _)| {
                    format!("header {k}")
                });
            Error::network(
                NetworkFailure::Other,
                format!("{which} refused by the host: {e:?}"),
            )
        })?;
        let outgoing = OutgoingRequest::new(headers);
        outgoing
            .set_method(&method(req.method))
            .map_err(|_| refused("method"))?;
        outgoing
            .set_scheme(Some(if req.secure {
                &Scheme::Https
            } else {
                &Scheme::Http
            }))
            .map_err(|_| refused("scheme"))?;
        outgoing
            .set_authority(Some(&req.authority))
            .map_err(|_| refused("authority"))?;
        outgoing
            .set_path_with_query(Some(&req.path_and_query()))
            .map_err(|_| refused("path"))?;
        // An empty body is never taken: the host then sends none (no chunked
        // framing for a GET to wait on), and `content-length: 0` still says so.
        let out_body = if body_len == 0 {
            None
        } else {
            Some(outgoing.body().map_err(|_| refused("body"))?)
        };
        let options = RequestOptions::new();
        let nanos = |d: std::time::Duration| Some(d.as_nanos().min(u64::MAX as u128) as u64);
        // A host that cannot apply a timeout keeps its own; not an error.
        let _ = options.set_connect_timeout(nanos(self.timeouts.connect));
        let _ = options.set_first_byte_timeout(nanos(self.timeouts.first_byte));
        let _ = options.set_between_bytes_timeout(nanos(self.timeouts.between_bytes));
        // `handle` sends the head; the body follows through the stream.
        let future =
            outgoing_handler::handle(outgoing, Some(options)).map_err(|c| network(&c, None))?;
        Ok((future, out_body))
    }

    /// Sends the head of a request whose body is `len` bytes, lets `write`
    /// hand the body to the host, ends it and waits for the reply.
    fn send_with(
        &self,
        req: &Request,
        len: usize,
        write: impl FnOnce(&OutputStream) -> std::result::Result<(), StreamError>,
    ) -> Result<Response<WasiBody>> {
        let (future, out_body) = self.head(req, len)?;
        let mut write_error = None;
        let mut finished = Ok(());
        if let Some(out_body) = out_body {
            let stream = out_body.write().map_err(|_| refused("body stream"))?;
            if let Err(e) = write(&stream) {
                write_error = Some(stream_failure(e, "sending the request body"));
            }
            drop(stream);
            finished = OutgoingBody::finish(out_body, None);
        }
        future.subscribe().block();
        self.finish(future, write_error, finished)
    }

    /// Collects the reply of a request whose future is ready.
    fn finish(
        &self,
        future: FutureIncomingResponse,
        write_error: Option<Error>,
        finished: std::result::Result<(), ErrorCode>,
    ) -> Result<Response<WasiBody>> {
        let response = match future.get() {
            Some(Ok(Ok(r))) => r,
            // The host's code says why; a failed body write is only its echo.
            Some(Ok(Err(code))) => return Err(network(&code, None)),
            Some(Err(())) | None => {
                return Err(Error::network(
                    NetworkFailure::Other,
                    "response lost by the host",
                ));
            }
        };
        // A server may answer (403, 503) before reading the whole body: its
        // reply explains more than our write error, so it wins when present.
        if let (Some(e), true) = (write_error, response.status() < 300) {
            return Err(e);
        }
        if let Err(code) = finished
            && response.status() < 300
        {
            return Err(network(&code, None));
        }
        let status = response.status();
        let headers = {
            let h = response.headers();
            h.entries()
                .into_iter()
                .map(|(mut name, value)| {
                    // Both arrive as fresh guest allocations: keep them.
                    name.make_ascii_lowercase();
                    let value = String::from_utf8(value)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                    (name, value)
                })
                .collect()
        };
        let incoming = response
            .consume()
            .map_err(|_| Error::network(NetworkFailure::Other, "response body already taken"))?;
        let stream = incoming.stream().map_err(|_| {
            Error::network(NetworkFailure::Other, "response body stream already taken")
        })?;
        Ok(Response {
            status,
            headers,
            body: WasiBody {
                stream: Some(stream),
                body: Some(incoming),
                _response: response,
            },
        })
    }
}

fn refused(what: &str) -> Error {
    Error::network(
        NetworkFailure::Other,
        format!("host refused the request {what}"),
    )
}

impl Transport for WasiHttp {
    type Body = WasiBody;
    type Pending = Pending;

    fn set_timeouts(&mut self, timeouts: Timeouts) {
        self.timeouts = timeouts;
    }

    /// Writes the body straight from the caller's slice, so a large
    /// `put-content` is never copied.
    fn send(&self, req: &Request, body: &[u8]) -> Result<Response<WasiBody>> {
        self.send_with(req, body.len(), |stream| write_all(stream, body))
    }

    /// Each piece is made only once the host took the previous one, so the
    /// guest hashes a chunk while the host sends the last.
    fn send_pieces(
        &self,
        req: &Request,
        pieces: &mut dyn Iterator<Item = BodyPiece<'_>>,
    ) -> Result<Response<WasiBody>> {
        let len = req
            .headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        self.send_with(req, len, |stream| {
            for p in pieces {
                hand_over(stream, &p.head)?;
                hand_over(stream, p.data)?;
                hand_over(stream, p.tail)?;
            }
            flushed(stream)
        })
    }

    fn begin(&self, req: &Request, data: Rc<Vec<u8>>) -> Result<Pending> {
        let (future, body) = self.head(req, data.len())?;
        let stream = match &body {
            Some(b) => Some(b.write().map_err(|_| refused("body stream"))?),
            None => None,
        };
        Ok(Pending {
            reply_ready: future.subscribe(),
            stream,
            body,
            data,
            offset: 0,
            write_error: None,
            finished: Ok(()),
            future,
        })
    }

    /// One `wasi:io/poll` over every body stream still being written and
    /// every reply not yet ready; a request whose reply came early (a 403
    /// before its body was read) stops being written to. A ready reply
    /// leaves the poll set: polling it again would return at once, and a
    /// guest that never blocks starves the host tasks that move the other
    /// bodies.
    fn drive(&self, pending: &mut [&mut Pending], wait: bool) -> Vec<usize> {
        let mut ready = vec![false; pending.len()];
        loop {
            let mut writing = false;
            for (i, p) in pending.iter_mut().enumerate() {
                if ready[i] {
                    continue;
                }
                if p.reply_ready.ready() {
                    p.close_body();
                    ready[i] = true;
                } else if !p.pump() {
                    writing = true;
                }
            }
            let any_ready = ready.iter().any(|r| *r);
            if !writing && (!wait || any_ready || pending.is_empty()) {
                break;
            }
            let subscriptions: Vec<Pollable> = pending
                .iter()
                .filter_map(|p| p.stream.as_ref().map(OutputStream::subscribe))
                .collect();
            let mut pollables: Vec<&Pollable> = subscriptions.iter().collect();
            pollables.extend(
                pending
                    .iter()
                    .zip(&ready)
                    .filter(|(_, r)| !**r)
                    .map(|(p, _)| &p.reply_ready),
            );
            if pollables.is_empty() {
                break;
            }
            poll(&pollables);
        }
        ready
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.then_some(i))
            .collect()
    }

    fn complete(&self, mut pending: Pending) -> Result<Response<WasiBody>> {
        pending.close_body();
        let Pending {
            reply_ready,
            future,
            write_error,
            finished,
            ..
        } = pending;
        drop(reply_ready);
        self.finish(future, write_error, finished)
    }
}

impl WasiBody {
    fn finish(&mut self) {
        self.stream.take();
        if let Some(body) = self.body.take() {
            drop(IncomingBody::finish(body));
        }
    }
}

impl Body for WasiBody {
    fn read(&mut self, max: usize) -> Result<Vec<u8>> {
        let Some(stream) = &self.stream else {
            return Ok(Vec::new());
        };
        loop {
            match stream.blocking_read(max as u64) {
                Ok(bytes) if bytes.is_empty() => continue,
                Ok(bytes) => return Ok(bytes),
                Err(StreamError::Closed) => {
                    self.finish();
                    return Ok(Vec::new());
                }
                Err(e) => {
                    self.finish();
                    return Err(stream_failure(e, "reading the response body"));
                }
            }
        }
    }
}
