//! The resumable writer: a multipart upload whose parts are all exactly
//! `chunksize` except the last (R2 refuses anything else). `close` flushes
//! the tail and leaves the upload open; `writer(path, append)` finds it again
//! through ListMultipartUploads and ListParts.
//!
//! Resuming after a `close` whose tail was shorter than `chunksize` needs care,
//! because a short part may not stay in the middle. On the first write after
//! such a resume the writer completes the upload (the object becomes the data
//! so far), starts a new one with every setting (the KMS key id included,
//! which the reference loses), copies the object back in whole `chunksize`
//! parts with UploadPartCopy, and re-reads the short remainder into its buffer.
//! Objects over 5 GiB resume too, since no single copy exceeds `chunksize`.

use std::rc::Rc;

use crate::config::MIN_CHUNK_SIZE;
use crate::driver::S3Driver;
use crate::error::{Error, Result};
use crate::path;
use crate::s3::request::CompletedPart;
use crate::transport::Transport;

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UploadedPart {
    number: u32,
    etag: String,
    size: u64,
}

/// A writer on one path.
pub struct Writer<T: Transport> {
    driver: Rc<S3Driver<T>>,
    path: String,
    key: String,
    upload_id: String,
    parts: Vec<UploadedPart>,
    /// Bytes in `parts` (what `size` reports, as the reference does).
    uploaded: u64,
    buf: Vec<u8>,
    chunk: usize,
    closed: bool,
    committed: bool,
    cancelled: bool,
}

impl<T: Transport> Writer<T> {
    /// Opens a writer: a new upload, or with `append` the open upload of the
    /// path (or a fresh one over a committed empty file).
    pub fn open(driver: Rc<S3Driver<T>>, path: &str, append: bool) -> Result<Self> {
        path::check(path)?;
        let key = driver.keys().key(path);
        let op = format!("writer {path}");
        let chunk = driver.config().chunk_size as usize;
        let mut w = Writer {
            path: path.to_owned(),
            upload_id: String::new(),
            parts: Vec::new(),
            uploaded: 0,
            buf: Vec::new(),
            chunk,
            closed: false,
            committed: false,
            cancelled: false,
            key,
            driver,
        };
        if append {
            match w.driver.find_upload(&op, &w.key)? {
                Some(id) => {
                    let parts = w.driver.list_parts(&op, &w.key, &id)?;
                    w.parts = parts
                        .into_iter()
                        .map(|p| UploadedPart {
                            number: p.part_number,
                            etag: p.etag,
                            size: p.size,
                        })
                        .collect();
                    w.uploaded = w.parts.iter().map(|p| p.size).sum();
                    w.upload_id = id;
                    return Ok(w);
                }
                None => {
                    let info = w.driver.stat(path)?;
                    if info.is_dir {
                        return Err(Error::PathNotFound {
                            path: path.to_owned(),
                        });
                    }
                    if info.size > 0 {
                        return Err(Error::InvalidState(format!(
                            "cannot append to {path}: it is committed with {} bytes (only an \
                             open upload or an empty file can be appended to)",
                            info.size
                        )));
                    }
                }
            }
        }
        w.upload_id = w.driver.create_upload(&op, &w.key)?;
        Ok(w)
    }

    /// The reference's order of complaints.
    fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(Error::InvalidState(format!(
                "writer for {} already closed",
                self.path
            )))
        } else if self.committed {
            Err(Error::InvalidState(format!(
                "writer for {} already committed",
                self.path
            )))
        } else if self.cancelled {
            Err(Error::InvalidState(format!(
                "writer for {} already cancelled",
                self.path
            )))
        } else {
            Ok(())
        }
    }

    /// Bytes uploaded so far; the buffered tail counts after `close`/`commit`.
    pub fn size(&self) -> u64 {
        self.uploaded
    }

    /// Appends `data`, uploading every full `chunksize` part.
    pub fn write(&mut self, data: &[u8]) -> Result<u64> {
        self.check_open()?;
        if self.parts.iter().any(|p| p.size != self.chunk as u64) {
            self.restart_with_uniform_parts()?;
        }
        self.buf.extend_from_slice(data);
        while self.buf.len() >= self.chunk {
            self.upload_buffered(self.chunk)?;
        }
        Ok(data.len() as u64)
    }

    fn op(&self, what: &str) -> String {
        format!("{what} {}", self.path)
    }

    /// Uploads the first `n` buffered bytes as the next part.
    fn upload_buffered(&mut self, n: usize) -> Result<()> {
        let number = self.parts.len() as u32 + 1;
        let etag = self.driver.upload_part(
            &self.op("writer"),
            &self.key,
            &self.upload_id,
            number,
            &self.buf[..n],
        )?;
        self.parts.push(UploadedPart {
            number,
            etag,
            size: n as u64,
        });
        self.uploaded += n as u64;
        self.buf.drain(..n);
        Ok(())
    }

    /// Uploads whatever is buffered as one (possibly short) part.
    fn flush_tail(&mut self) -> Result<()> {
        while self.buf.len() >= self.chunk {
            self.upload_buffered(self.chunk)?;
        }
        if !self.buf.is_empty() {
            self.upload_buffered(self.buf.len())?;
        }
        Ok(())
    }

    fn completed_parts(&self) -> Vec<CompletedPart> {
        self.parts
            .iter()
            .map(|p| CompletedPart {
                number: p.number,
                etag: p.etag.clone(),
            })
            .collect()
    }

    /// See the module docs: complete, start again, copy back whole chunks,
    /// re-buffer the remainder.
    fn restart_with_uniform_parts(&mut self) -> Result<()> {
        let op = self.op("writer (resume)");
        let total = self.uploaded;
        if let Err(e) =
            self.driver
                .complete_upload(&op, &self.key, &self.upload_id, &self.completed_parts())
        {
            let _ = self.driver.abort_upload(&op, &self.key, &self.upload_id);
            return Err(e);
        }
        self.upload_id = self.driver.create_upload(&op, &self.key)?;
        self.parts.clear();
        self.uploaded = 0;
        let chunk = self.chunk as u64;
        // Parts must be at least 5 MiB; chunksize always is.
        debug_assert!(chunk >= MIN_CHUNK_SIZE);
        let whole = total / chunk;
        for i in 0..whole {
            let number = i as u32 + 1;
            let range = (i * chunk, (i + 1) * chunk - 1);
            let etag = self.driver.upload_part_copy(
                &op,
                &self.key,
                &self.upload_id,
                number,
                &self.key,
                range,
            )?;
            self.parts.push(UploadedPart {
                number,
                etag,
                size: chunk,
            });
            self.uploaded += chunk;
        }
        let tail = self.driver.get_range(&op, &self.key, whole * chunk)?;
        if tail.len() as u64 != total - whole * chunk {
            return Err(Error::MalformedResponse(format!(
                "{op}: re-reading the tail gave {} bytes, expected {}",
                tail.len(),
                total - whole * chunk
            )));
        }
        let mut buf = tail;
        buf.append(&mut self.buf);
        self.buf = buf;
        Ok(())
    }

    /// Flushes the tail and leaves the upload open. Allowed after `commit`
    /// and `cancel` (the tail is then empty).
    pub fn close(&mut self) -> Result<()> {
        if self.closed {
            return Err(Error::InvalidState(format!(
                "writer for {} already closed",
                self.path
            )));
        }
        self.closed = true;
        if self.committed || self.cancelled {
            return Ok(());
        }
        self.flush_tail()
    }

    /// Aborts the upload.
    pub fn cancel(&mut self) -> Result<()> {
        self.check_open()?;
        self.cancelled = true;
        self.buf = Vec::new();
        self.driver
            .abort_upload(&self.op("cancel"), &self.key, &self.upload_id)
    }

    /// Uploads the tail and completes the upload; a zero-byte file gets one
    /// empty part, since S3 refuses to complete an upload with none.
    pub fn commit(&mut self) -> Result<()> {
        self.check_open()?;
        self.flush_tail()?;
        self.committed = true;
        let op = self.op("commit");
        if self.parts.is_empty() {
            let etag = self
                .driver
                .upload_part(&op, &self.key, &self.upload_id, 1, &[])?;
            self.parts.push(UploadedPart {
                number: 1,
                etag,
                size: 0,
            });
        }
        if let Err(e) =
            self.driver
                .complete_upload(&op, &self.key, &self.upload_id, &self.completed_parts())
        {
            let _ = self.driver.abort_upload(&op, &self.key, &self.upload_id);
            return Err(e);
        }
        Ok(())
    }
}
