//! Readers, writers and walkers: each keeps the instance it was opened on
//! until dropped, and releases its guest resource then.

// `CallError` carries the WIT error by value; see `error.rs`.
#![allow(clippy::result_large_err)]

use std::fmt;

use futures::Stream;
use wasmtime::component::ResourceAny;

use super::error::CallResult;
use super::pool::{Lease, call, pinned};
use crate::FileInfo;

/// What [`Driver::walk_with`] does after an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkControl {
    /// Go on.
    Continue,
    /// Do not enter this directory (no effect on a file).
    SkipDir,
    /// End the walk without an error.
    Stop,
}

/// A writer whose data becomes visible on [`Writer::commit`].
pub struct Writer {
    pub(crate) lease: Lease,
    pub(crate) handle: ResourceAny,
    pub(crate) path: String,
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer").field("path", &self.path).finish()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.lease.release(self.handle);
    }
}

impl Writer {
    /// The version of the component this writer runs on.
    pub fn component_version(&self) -> Option<String> {
        self.lease.version().map(|v| v.version().to_owned())
    }

    /// Appends `data`.
    pub async fn write(&mut self, data: &[u8]) -> CallResult<u64> {
        let n = pinned!(self, "file-writer.write", file_writer, call_write(data))?;
        self.lease.shared.metrics.written(data.len());
        Ok(n)
    }

    /// Bytes uploaded so far (the buffered tail counts after close/commit).
    pub async fn size(&mut self) -> CallResult<u64> {
        let h = self.handle;
        call!(&mut self.lease, file_writer, call_size(h))
    }

    /// Flushes and leaves the upload open for a later append.
    pub async fn close(&mut self) -> CallResult<()> {
        pinned!(self, "file-writer.close", file_writer, call_close())
    }

    /// Aborts the upload.
    pub async fn cancel(&mut self) -> CallResult<()> {
        pinned!(self, "file-writer.cancel", file_writer, call_cancel())
    }

    /// Makes the content visible.
    pub async fn commit(&mut self) -> CallResult<()> {
        pinned!(self, "file-writer.commit", file_writer, call_commit())
    }
}

/// A walk in progress.
pub struct Walker {
    pub(crate) lease: Lease,
    pub(crate) handle: ResourceAny,
    pub(crate) path: String,
}

impl fmt::Debug for Walker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Walker").field("path", &self.path).finish()
    }
}

impl Drop for Walker {
    fn drop(&mut self) {
        self.lease.release(self.handle);
    }
}

impl Walker {
    /// Up to `max` next entries; empty at the end.
    pub async fn next(&mut self, max: u32) -> CallResult<Vec<FileInfo>> {
        pinned!(self, "walker.next", walker, call_next(max))
    }

    /// Skips what is below `dir` and not returned yet.
    pub async fn skip_dir(&mut self, dir: &str) -> CallResult<()> {
        let h = self.handle;
        call!(&mut self.lease, walker, call_skip_dir(h, dir))
    }

    /// The rest of the walk as a stream of entries, fetched a page at a time.
    pub fn into_stream(self) -> impl Stream<Item = CallResult<FileInfo>> + Send {
        futures::stream::unfold(
            (Some(self), std::collections::VecDeque::new()),
            |(mut walker, mut page)| async move {
                loop {
                    if let Some(info) = page.pop_front() {
                        return Some((Ok(info), (walker, page)));
                    }
                    let w = walker.as_mut()?;
                    match w.next(1000).await {
                        Ok(next) if next.is_empty() => return None,
                        Ok(next) => page.extend(next),
                        Err(e) => return Some((Err(e), (None, page))),
                    }
                }
            },
        )
    }
}

/// A streamed file.
pub struct Reader {
    pub(crate) lease: Lease,
    pub(crate) handle: ResourceAny,
    pub(crate) path: String,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").field("path", &self.path).finish()
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.lease.release(self.handle);
    }
}

impl Reader {
    /// The version of the component this reader runs on.
    pub fn component_version(&self) -> Option<String> {
        self.lease.version().map(|v| v.version().to_owned())
    }

    /// Up to `max` next bytes; empty at the end.
    pub async fn read(&mut self, max: u32) -> CallResult<Vec<u8>> {
        let data = pinned!(self, "file-reader.read", file_reader, call_read(max))?;
        self.lease.shared.metrics.read(data.len());
        Ok(data)
    }

    /// Reads to the end.
    pub async fn read_to_end(&mut self) -> CallResult<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let chunk = self.read(1 << 20).await?;
            if chunk.is_empty() {
                return Ok(out);
            }
            out.extend_from_slice(&chunk);
        }
    }
}
