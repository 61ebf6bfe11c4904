//! Bodies both ways: a blob streamed out of a driver reader, and a request
//! streamed into a driver writer, in batches so a guest call moves a MiB,
//! not a network frame.

use std::io;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use s3_driver_host::{Reader, Writer};

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

/// `len` bytes from `reader`, read a batch at a time as the client takes
/// them. A blob shorter than its stat said ends the body with an error, so
/// the client sees a broken transfer, never a short one.
pub fn from_reader(reader: Reader, len: u64) -> Body {
    let stream = futures::stream::unfold((reader, len), |(mut r, left)| async move {
        if left == 0 {
            return None;
        }
        let want = left.min(BATCH as u64) as u32;
        match r.read(want).await {
            Ok(bytes) if bytes.is_empty() => Some((
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the blob ended before its size",
                )),
                (r, 0),
            )),
            Ok(bytes) => {
                let n = bytes.len() as u64;
                Some((Ok(Frame::data(Bytes::from(bytes))), (r, left - n.min(left))))
            }
            Err(e) => Some((Err(io::Error::other(e.to_string())), (r, 0))),
        }
    });
    StreamBody::new(stream).boxed_unsync()
}

/// What [`into_writer`] moved.
pub struct Pumped {
    /// Bytes written.
    pub written: u64,
    /// The request body failed part way; what arrived before it was written.
    pub broken: Option<String>,
}

/// Streams `body` into `writer`, feeding `state` with exactly the bytes the
/// writer took. A driver failure is returned as the request's failure.
pub async fn into_writer(
    mut body: Body,
    writer: &mut Writer,
    mut state: Option<&mut Sha256State>,
) -> ApiResult<Pumped> {
    let mut batch: Vec<u8> = Vec::with_capacity(BATCH);
    let mut written = 0u64;
    let mut broken = None;
    loop {
        let frame = match body.frame().await {
            None => break,
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                broken = Some(e.to_string());
                break;
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        batch.extend_from_slice(&data);
        if batch.len() >= BATCH {
            written += write_batch(writer, &batch, state.as_deref_mut()).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        written += write_batch(writer, &batch, state).await?;
    }
    Ok(Pumped { written, broken })
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
pub async fn collect(body: Body, limit: usize, too_large: Failure) -> ApiResult<Vec<u8>> {
    let limited = http_body_util::Limited::new(body, limit);
    match limited.collect().await {
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
