//! Bodies both ways: a blob streamed out of a driver reader, and a request
//! streamed into a driver writer, in batches so a guest call moves a MiB,
//! not a network frame.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use s3_driver_host::{CallError, Driver, Reader, Writer};

use crate::digest::Sha256State;
use crate::error::{ApiError, ApiResult, Failure};

/// Response and request bodies as the handlers see them.
pub type Body = UnsyncBoxBody<Bytes, io::Error>;

/// Bytes per driver read or write.
pub const BATCH: usize = 1 << 20;

/// No body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A body of these bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// How long the download task keeps its reader (and so a driver instance)
/// while the client has not taken the batch before: a client that keeps up
/// takes a MiB well within it; one that stalls costs a reopen, not an
/// instance for as long as it stalls.
const READER_HOLD: Duration = Duration::from_secs(1);

/// `len` bytes of the object at `path` from `start`, `first` reading there.
/// A task reads a batch ahead of the client; when the client has not taken
/// the batch before within [`READER_HOLD`], the task drops its reader and
/// opens a new one at the same offset once the client is ready. A blob
/// shorter than its stat said ends the body with an error, so the client
/// sees a broken transfer, never a short one. The task ends when the
/// client goes.
pub fn from_driver(driver: Driver, path: String, first: Reader, start: u64, len: u64) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(1);
    tokio::spawn(async move {
        let mut reader = Some(first);
        let (mut at, end) = (start, start + len);
        while at < end {
            let room = match tokio::time::timeout(READER_HOLD, tx.reserve()).await {
                Ok(Ok(room)) => room,
                Ok(Err(_)) => return,
                Err(_) => {
                    reader = None;
                    match tx.reserve().await {
                        Ok(room) => room,
                        Err(_) => return,
                    }
                }
            };
            let r = match &mut reader {
                Some(r) => r,
                None => match driver.reader(&path, at as i64).await {
                    Ok(r) => reader.insert(r),
                    Err(e) => return room.send(Err(storage_io(e))),
                },
            };
            let want = (end - at).min(BATCH as u64) as u32;
            match r.read(want).await {
                Ok(bytes) if bytes.is_empty() => {
                    return room.send(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the blob ended before its size",
                    )));
                }
                Ok(bytes) => {
                    at += bytes.len() as u64;
                    room.send(Ok(Bytes::from(bytes)));
                }
                Err(e) => return room.send(Err(storage_io(e))),
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        Some((item.map(Frame::data), rx))
    });
    StreamBody::new(stream).boxed_unsync()
}

/// A driver failure mid-body: the client sees the transfer break; the
/// detail, which names storage keys, goes to the log.
fn storage_io(e: CallError) -> io::Error {
    tracing::warn!(error = %e, "a blob download failed");
    io::Error::other(format!("storage failed ({})", e.kind()))
}

/// Where a request body stands. A body left part read would make hyper
/// close the connection after the reply without saying so, and a client
/// that pooled the connection would lose its next request to the close; the
/// slot knows, so the reply can say `Connection: close` or the rest can be
/// drained.
enum Slot {
    /// Not read, or given back part read.
    Unread(Body),
    /// A handler holds it.
    Lent,
    /// Read to its end.
    Finished,
    /// It broke off or was abandoned: the connection cannot be reused.
    Cut,
}

/// A request's body until a handler takes it; what a handler left unread is
/// drained after the reply is decided.
pub struct BodySlot(Mutex<Slot>);

impl BodySlot {
    /// A slot holding `body`.
    pub fn new(body: Body) -> Self {
        Self(Mutex::new(Slot::Unread(body)))
    }

    fn set(&self, to: Slot) -> Slot {
        std::mem::replace(&mut *self.0.lock().expect("not poisoned"), to)
    }

    /// The body, lent to a handler that must settle it ([`Incoming`] and
    /// [`collect`] do); empty if already taken.
    fn lend(&self) -> Body {
        match self.set(Slot::Lent) {
            Slot::Unread(b) => b,
            other => {
                self.set(other);
                empty()
            }
        }
    }

    /// Reads and drops what was left unread, up to `limit` bytes and with
    /// `idle` allowed between frames; false when the connection cannot be
    /// reused (some left unread, a body broken off or never settled).
    pub async fn drain(&self, limit: usize, idle: Duration) -> bool {
        let mut b = match self.set(Slot::Finished) {
            Slot::Finished => return true,
            Slot::Lent | Slot::Cut => return false,
            Slot::Unread(b) => b,
        };
        let mut seen = 0usize;
        while seen < limit {
            match tokio::time::timeout(idle, b.frame()).await {
                Ok(Some(Ok(f))) => seen += f.data_ref().map_or(0, |d| d.len()),
                Ok(None) => return true,
                _ => return false,
            }
        }
        http_body::Body::is_end_stream(&b)
    }
}

/// What [`into_writer`] moved.
pub struct Pumped {
    /// Bytes written.
    pub written: u64,
    /// The request body failed part way; what arrived before it was written.
    pub broken: Option<String>,
}

/// A request body read a batch at a time, each frame within `idle` of the
/// one before: a client that stops sending ends its body as broken instead
/// of holding the request (and, once a writer is open, an instance).
pub struct Incoming<'a> {
    slot: &'a BodySlot,
    body: Body,
    idle: Duration,
    done: bool,
    broken: Option<String>,
}

impl<'a> Incoming<'a> {
    /// The body in `slot`, allowed `idle` between frames; what is left
    /// unread goes back to the slot when this is dropped.
    pub fn new(slot: &'a BodySlot, idle: Duration) -> Self {
        Self {
            slot,
            body: slot.lend(),
            idle,
            done: false,
            broken: None,
        }
    }

    /// About [`BATCH`] bytes; fewer only at the end of the body or where it
    /// broke off. Read before a writer is opened, the first batch costs
    /// no instance while a slow client sends it.
    pub async fn batch(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while !self.done && out.len() < BATCH {
            match tokio::time::timeout(self.idle, self.body.frame()).await {
                Err(_) => {
                    self.broken = Some(format!("no data for {:?}", self.idle));
                    self.done = true;
                }
                Ok(None) => self.done = true,
                Ok(Some(Err(e))) => {
                    self.broken = Some(e.to_string());
                    self.done = true;
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        out.extend_from_slice(&data);
                    }
                }
            }
        }
        out
    }
}

impl Drop for Incoming<'_> {
    fn drop(&mut self) {
        let settled = match (self.done, self.broken.is_some()) {
            (_, true) => Slot::Cut,
            (true, false) => Slot::Finished,
            (false, false) => Slot::Unread(std::mem::replace(&mut self.body, empty())),
        };
        self.slot.set(settled);
    }
}

/// Writes `first` and then the rest of `body` into `writer`, feeding
/// `state` with exactly the bytes the writer took. A driver failure is
/// returned as the request's failure.
pub async fn into_writer(
    body: &mut Incoming<'_>,
    first: Vec<u8>,
    writer: &mut Writer,
    mut state: Option<&mut Sha256State>,
) -> ApiResult<Pumped> {
    let mut written = 0u64;
    let mut batch = first;
    loop {
        if !batch.is_empty() {
            written += write_batch(writer, &batch, state.as_deref_mut()).await?;
        }
        if body.done {
            break;
        }
        batch = body.batch().await;
    }
    Ok(Pumped {
        written,
        broken: body.broken.take(),
    })
}

async fn write_batch(
    writer: &mut Writer,
    batch: &[u8],
    state: Option<&mut Sha256State>,
) -> ApiResult<u64> {
    writer.write(batch).await.map_err(ApiError::storage)?;
    if let Some(s) = state {
        s.update(batch);
    }
    Ok(batch.len() as u64)
}

/// The whole request body, refused past `limit` bytes.
pub async fn collect(body: &BodySlot, limit: usize, too_large: Failure) -> ApiResult<Vec<u8>> {
    let limited = http_body_util::Limited::new(body.lend(), limit);
    let read = limited.collect().await;
    body.set(if read.is_ok() {
        Slot::Finished
    } else {
        Slot::Cut
    });
    match read {
        Ok(c) => Ok(c.to_bytes().to_vec()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            too_large,
            format!("the body is larger than {limit} bytes"),
        )),
        Err(e) => Err(ApiError::new(
            Failure::UploadInvalid,
            format!("reading the request body: {e}"),
        )),
    }
}
