//! Readers and writers as `tokio::io::AsyncRead` / `AsyncWrite`.

// `CallError` carries the WIT error by value; see `error.rs`.
#![allow(clippy::result_large_err)]

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::error::{CallError, CallResult};
use super::handles::{Reader, Writer};

type WriteFuture = Pin<Box<dyn Future<Output = (Writer, CallResult<()>)> + Send>>;

/// [`Writer`] as a `tokio::io::AsyncWrite`.
pub struct AsyncWriter {
    idle: Option<Writer>,
    busy: Option<WriteFuture>,
    buffer: Vec<u8>,
    closed: bool,
}

const ASYNC_WRITE_BATCH: usize = 1 << 20;

impl AsyncWriter {
    pub(crate) fn new(writer: Writer) -> Self {
        Self {
            idle: Some(writer),
            busy: None,
            buffer: Vec::new(),
            closed: false,
        }
    }

    /// Finishes the write in flight (if any) and returns the error it had.
    fn poll_busy(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(fut) = self.busy.as_mut() {
            let (writer, result) = ready!(fut.as_mut().poll(cx));
            self.busy = None;
            self.idle = Some(writer);
            result.map_err(io::Error::other)?;
        }
        Poll::Ready(Ok(()))
    }

    fn start(&mut self, close: bool) -> io::Result<()> {
        let mut writer = self
            .idle
            .take()
            .ok_or_else(|| io::Error::other("the writer failed earlier"))?;
        let data = std::mem::take(&mut self.buffer);
        self.busy = Some(Box::pin(async move {
            let mut r = if data.is_empty() {
                Ok(())
            } else {
                writer.write(&data).await.map(drop)
            };
            if close && r.is_ok() {
                r = writer.close().await;
            }
            (writer, r)
        }));
        Ok(())
    }

    /// Sends what is buffered, then commits; the content becomes visible.
    pub async fn commit(mut self) -> CallResult<()> {
        let mut writer = self.drain_to_writer().await?;
        writer.commit().await
    }

    /// Sends what is buffered and gives back the [`Writer`].
    pub async fn into_writer(mut self) -> CallResult<Writer> {
        self.drain_to_writer().await
    }

    async fn drain_to_writer(&mut self) -> CallResult<Writer> {
        if let Some(fut) = self.busy.take() {
            let (writer, r) = fut.await;
            self.idle = Some(writer);
            r?;
        }
        let mut writer = self
            .idle
            .take()
            .ok_or_else(|| CallError::Host("the writer failed earlier".into()))?;
        let data = std::mem::take(&mut self.buffer);
        if !data.is_empty() {
            writer.write(&data).await?;
        }
        Ok(writer)
    }
}

impl AsyncWrite for AsyncWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.closed {
            return Poll::Ready(Err(io::Error::other("the writer is closed")));
        }
        if this.buffer.len() >= ASYNC_WRITE_BATCH {
            ready!(this.poll_busy(cx))?;
            this.start(false)?;
        }
        this.buffer.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_busy(cx))?;
        if !this.buffer.is_empty() {
            this.start(false)?;
            ready!(this.poll_busy(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_busy(cx))?;
        if !this.closed {
            this.closed = true;
            this.start(true)?;
        }
        this.poll_busy(cx)
    }
}

type ReadFuture = Pin<Box<dyn Future<Output = (Reader, CallResult<Vec<u8>>)> + Send>>;

/// [`Reader`] as a `tokio::io::AsyncRead`.
pub struct AsyncReader {
    idle: Option<Reader>,
    busy: Option<ReadFuture>,
    chunk: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl AsyncReader {
    pub(crate) fn new(reader: Reader) -> Self {
        Self {
            idle: Some(reader),
            busy: None,
            chunk: Vec::new(),
            pos: 0,
            eof: false,
        }
    }
}

impl AsyncRead for AsyncReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.pos < this.chunk.len() {
                let n = out.remaining().min(this.chunk.len() - this.pos);
                out.put_slice(&this.chunk[this.pos..this.pos + n]);
                this.pos += n;
                return Poll::Ready(Ok(()));
            }
            if this.eof || out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if this.busy.is_none() {
                let mut reader = this
                    .idle
                    .take()
                    .ok_or_else(|| io::Error::other("the reader failed earlier"))?;
                let max = out.remaining().clamp(64 << 10, 4 << 20) as u32;
                this.busy = Some(Box::pin(async move {
                    let r = reader.read(max).await;
                    (reader, r)
                }));
            }
            let (reader, r) = ready!(this.busy.as_mut().expect("set above").as_mut().poll(cx));
            this.busy = None;
            match r {
                Ok(chunk) => {
                    this.idle = Some(reader);
                    this.eof = chunk.is_empty();
                    this.chunk = chunk;
                    this.pos = 0;
                }
                Err(e) => return Poll::Ready(Err(io::Error::other(e))),
            }
        }
    }
}

impl Reader {
    /// This reader as a `tokio::io::AsyncRead`.
    pub fn into_async_read(self) -> AsyncReader {
        AsyncReader::new(self)
    }
}

impl Writer {
    /// This writer as a `tokio::io::AsyncWrite` that sends 1 MiB at a time.
    /// `shutdown` closes (the upload stays resumable); call
    /// [`AsyncWriter::commit`] to make the content visible instead.
    pub fn into_async_write(self) -> AsyncWriter {
        AsyncWriter::new(self)
    }
}
