//! The resumable writer: a multipart upload whose parts are all exactly
//! `chunksize` except the last (R2 refuses anything else). `close` flushes
//! the tail and leaves the upload open; `writer(path, append)` finds it again
//! through ListMultipartUploads and ListParts.
//!
//! The upload is created when the first part goes out or at `close`, not at
//! open (the reference creates it at open): a writer committed with less
//! than one `chunksize` and never closed stores its bytes with one PutObject
//! (as the AWS SDKs' upload managers do) instead of create, part and
//! complete. What a closed writer leaves, and so what a resume finds, is the
//! same; a refusal to create the upload surfaces at the first part, `close`
//! or `commit` instead of at open.
//!
//! Resuming after a `close` whose tail was shorter than `chunksize` needs care,
//! because a short part may not stay in the middle. On the first write after
//! such a resume the writer completes the upload (the object becomes the data
//! so far), starts a new one with every setting (the KMS key id included,
//! which the reference loses), copies the object back in whole `chunksize`
//! parts with UploadPartCopy, and re-reads the short remainder into its buffer.
//! Objects over 5 GiB resume too, since no single copy exceeds `chunksize`.
//! An append to a committed file (none of the reference's drivers allow one
//! to a non-empty file) takes the same path without the completion: it is
//! how a writer that died between completing and restarting is resumed.
//!
//! Up to `multipartuploadmaxconcurrency` parts are under way at once. Each
//! keeps its bytes until the server confirms it, and parts are counted as
//! uploaded only in order, so `size` and a resume see a contiguous prefix.
//! A part that fails for good sends every unconfirmed part's bytes back to
//! the front of the buffer: nothing accepted is lost, and the next call
//! uploads them again under the same part numbers.

use std::collections::VecDeque;
use std::rc::Rc;

use crate::client::{AttemptLog, S3Client};
use crate::config::MIN_CHUNK_SIZE;
use crate::error::{Error, Result};
use crate::s3::request::CompletedPart;
use crate::transport::Transport;

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UploadedPart {
    number: u32,
    etag: String,
    size: u64,
    /// Its `x-amz-checksum-*` value, for Complete.
    checksum: Option<String>,
}

/// A part under way, or confirmed but behind one that is not.
struct Flight<P> {
    number: u32,
    data: Rc<Vec<u8>>,
    attempt: u32,
    state: FlightState<P>,
    /// The part's checksum, set when it is sent.
    checksum: Option<String>,
}

enum FlightState<P> {
    /// Under way, with what its log line needs (when logging).
    Sending(P, Option<AttemptLog>),
    /// Failed before its request went out (signing, the host's refusal).
    Failed(Error),
    Done(String),
}

/// A writer on one path.
pub struct Writer<T: Transport> {
    client: Rc<S3Client<T>>,
    path: String,
    key: String,
    upload_id: String,
    parts: Vec<UploadedPart>,
    /// Bytes in `parts` (what `size` reports, as the reference does).
    uploaded: u64,
    /// Parts after `parts`, in part-number order.
    flights: VecDeque<Flight<T::Pending>>,
    /// Most entries in `flights`.
    concurrency: usize,
    buf: Vec<u8>,
    /// The buffer of the last part the server confirmed, kept for the next
    /// part (see `write`).
    spare: Option<Vec<u8>>,
    chunk: usize,
    closed: bool,
    committed: bool,
    cancelled: bool,
    /// Bytes of a committed object this writer continues (an append to a
    /// committed file) that are not yet copied into its upload.
    committed_base: u64,
}

impl<T: Transport> Writer<T> {
    /// Opens a writer of the (checked) storage `path` stored at `key`: a new
    /// upload, or with `append` the open upload of the key (or a fresh one
    /// over a committed empty file).
    pub fn open(client: Rc<S3Client<T>>, path: &str, key: String, append: bool) -> Result<Self> {
        let op = format!("writer {path}");
        let chunk = client.config().chunk_size as usize;
        let concurrency = client.config().upload_max_concurrency as usize;
        let mut w = Writer {
            path: path.to_owned(),
            upload_id: String::new(),
            parts: Vec::new(),
            uploaded: 0,
            flights: VecDeque::new(),
            concurrency,
            buf: Vec::new(),
            spare: None,
            chunk,
            closed: false,
            committed: false,
            cancelled: false,
            committed_base: 0,
            key,
            client,
        };
        if append {
            match w.client.find_upload(&op, &w.key)? {
                Some(id) => {
                    let parts = w.client.list_parts(&op, &w.key, &id)?;
                    // Parts go up in parallel, so a writer that died may have
                    // left a gap; only the parts before it count, and later
                    // ones are overwritten as the upload goes on.
                    w.parts = parts
                        .into_iter()
                        .enumerate()
                        .take_while(|(i, p)| p.part_number as usize == i + 1)
                        .map(|(_, p)| UploadedPart {
                            number: p.part_number,
                            checksum: w.client.requests().pick_checksum(&(&p).into()),
                            etag: p.etag,
                            size: p.size,
                        })
                        .collect();
                    w.uploaded = w.parts.iter().map(|p| p.size).sum();
                    w.upload_id = id;
                    // Whole parts only, and fewer bytes than the object at
                    // the key: a copy-back cut short (a writer that died
                    // after completing and restarting its upload). The
                    // copy goes on at the first write. (A writer started
                    // without append over an existing file and resumed
                    // before it outgrew it would look the same; the
                    // registry never writes that way.)
                    if w.parts.iter().all(|p| p.size == chunk as u64)
                        && let Some(head) = w.client.head_object(&op, &w.key)?
                        && head.size > w.uploaded
                    {
                        w.committed_base = head.size;
                        w.uploaded = head.size;
                    }
                    return Ok(w);
                }
                // A directory or nothing at all: there is no file to append to.
                None => match w.client.head_object(&op, &w.key)? {
                    None => {
                        return Err(Error::PathNotFound {
                            path: path.to_owned(),
                        });
                    }
                    // A committed file is continued: its bytes are copied
                    // into a new upload at the first write, and it stays as
                    // it is until a commit. This is also where a writer
                    // that died between completing and restarting its
                    // upload (see the module docs) left its data.
                    Some(head) => {
                        w.committed_base = head.size;
                        w.uploaded = head.size;
                    }
                },
            }
        }
        // The upload is created when a part must go out, or at `close` (a
        // closed writer's upload is what a later append resumes); a writer
        // committed with less than one part sends one PutObject instead.
        Ok(w)
    }

    /// Creates the multipart upload if this writer has none yet.
    fn ensure_upload(&mut self) -> Result<()> {
        if self.upload_id.is_empty() {
            let op = self.op("writer");
            self.upload_id = self.client.create_upload(&op, &self.key, true)?;
        }
        Ok(())
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

    /// Appends `data`, starting an upload of every full `chunksize` part.
    /// Returns once every started part's bytes are with the host; it waits
    /// for replies only when `concurrency` parts are already under way. On
    /// an error every byte stays buffered, this call's included.
    pub fn write(&mut self, data: &[u8]) -> Result<u64> {
        self.check_open()?;
        if self.committed_base > 0 {
            let op = self.op("writer (append)");
            self.copy_back(&op, self.committed_base)?;
            self.committed_base = 0;
        } else if self.parts.iter().any(|p| p.size != self.chunk as u64) {
            self.restart_with_uniform_parts()?;
        }
        let mut rest = data;
        while !rest.is_empty() || self.buf.len() >= self.chunk {
            if self.buf.capacity() == 0 {
                // One allocation of exactly one part, never a doubling; and
                // the confirmed part's when there is one: a part freed back
                // to the heap gets split by the allocations that follow
                // (write arguments, requests), the next part no longer fits
                // in its place, and linear memory, which never shrinks,
                // grows by one part more. At most the part being filled and
                // `concurrency` others are held, spare included.
                self.buf = self.spare.take().unwrap_or_default();
                self.buf.reserve_exact(self.chunk);
            }
            let take = self.chunk.saturating_sub(self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buf.len() >= self.chunk
                && let Err(e) = self.launch(self.chunk)
            {
                self.buf.extend_from_slice(rest);
                return Err(e);
            }
        }
        self.settle(false)?;
        Ok(data.len() as u64)
    }

    fn op(&self, what: &str) -> String {
        format!("{what} {}", self.path)
    }

    /// Starts uploading the first `n` buffered bytes as the next part, first
    /// waiting for a free slot.
    fn launch(&mut self, n: usize) -> Result<()> {
        self.ensure_upload()?;
        while self.flights.len() >= self.concurrency.max(1) {
            self.settle(true)?;
        }
        let data = if n == self.buf.len() {
            std::mem::take(&mut self.buf)
        } else {
            let rest = self.buf.split_off(n);
            std::mem::replace(&mut self.buf, rest)
        };
        let number = (self.parts.len() + self.flights.len()) as u32 + 1;
        let data = Rc::new(data);
        let (state, checksum) = self.begin(number, &data, 1);
        self.flights.push_back(Flight {
            number,
            data,
            attempt: 1,
            state,
            checksum,
        });
        Ok(())
    }

    /// Sends a part; its state, and its checksum for Complete.
    fn begin(
        &self,
        number: u32,
        data: &Rc<Vec<u8>>,
        attempt: u32,
    ) -> (FlightState<T::Pending>, Option<String>) {
        match self
            .client
            .begin_part(&self.key, &self.upload_id, number, data.clone(), attempt)
        {
            Ok((p, log, checksum)) => (FlightState::Sending(p, log), checksum),
            Err(e) => (FlightState::Failed(e), None),
        }
    }

    /// Hands part bodies to the host and takes in the replies that are
    /// ready; with `wait`, until at least one slot frees up. Failed parts are
    /// sent again after a backoff; a part out of attempts fails the call.
    fn settle(&mut self, wait: bool) -> Result<()> {
        let before = self.flights.len();
        loop {
            let failed = self.has_failed();
            let ready = {
                let mut sending: Vec<&mut T::Pending> = Vec::new();
                let mut index = Vec::new();
                for (i, f) in self.flights.iter_mut().enumerate() {
                    if let FlightState::Sending(p, _) = &mut f.state {
                        sending.push(p);
                        index.push(i);
                    }
                }
                let block = wait && !sending.is_empty() && !failed;
                let ready = self.client.drive(&mut sending, block);
                ready.into_iter().map(|r| index[r]).collect::<Vec<_>>()
            };
            let op = self.op("writer");
            for i in ready {
                let flight = &mut self.flights[i];
                let FlightState::Sending(p, log) =
                    std::mem::replace(&mut flight.state, FlightState::Done(String::new()))
                else {
                    unreachable!("only sending flights are driven");
                };
                flight.state = match self.client.finish_part(&op, p, log) {
                    Ok(etag) => FlightState::Done(etag),
                    Err(e) => FlightState::Failed(e),
                };
            }
            self.retry_failed()?;
            while let Some(Flight {
                state: FlightState::Done(_),
                ..
            }) = self.flights.front()
            {
                let f = self.flights.pop_front().expect("front exists");
                let FlightState::Done(etag) = f.state else {
                    unreachable!("checked above")
                };
                self.uploaded += f.data.len() as u64;
                self.parts.push(UploadedPart {
                    number: f.number,
                    etag,
                    size: f.data.len() as u64,
                    checksum: f.checksum,
                });
                if let Ok(mut spare) = Rc::try_unwrap(f.data)
                    && spare.capacity() >= self.chunk
                {
                    spare.clear();
                    self.spare = Some(spare);
                }
            }
            if !wait || self.flights.len() < before || self.flights.is_empty() {
                return Ok(());
            }
        }
    }

    fn has_failed(&self) -> bool {
        self.flights
            .iter()
            .any(|f| matches!(f.state, FlightState::Failed(_)))
    }

    /// Starts failed parts again while they have attempts left; otherwise
    /// gives up on every unconfirmed part and returns the error.
    fn retry_failed(&mut self) -> Result<()> {
        for i in 0..self.flights.len() {
            let FlightState::Failed(e) = &self.flights[i].state else {
                continue;
            };
            if self.client.back_off(self.flights[i].attempt, e) {
                let f = &self.flights[i];
                let (number, data, attempt) = (f.number, f.data.clone(), f.attempt + 1);
                let (state, checksum) = self.begin(number, &data, attempt);
                let f = &mut self.flights[i];
                f.attempt = attempt;
                f.state = state;
                f.checksum = checksum;
            } else {
                let FlightState::Failed(e) =
                    std::mem::replace(&mut self.flights[i].state, FlightState::Done(String::new()))
                else {
                    unreachable!("matched above")
                };
                self.rebuffer();
                return Err(e);
            }
        }
        Ok(())
    }

    /// Drops every unconfirmed part's request and puts its bytes back in
    /// front of the buffer, in order.
    fn rebuffer(&mut self) {
        let flights: Vec<_> = self.flights.drain(..).collect();
        let held: usize = flights.iter().map(|f| f.data.len()).sum();
        let mut buf = Vec::with_capacity(held + self.buf.len());
        for f in flights {
            drop(f.state);
            buf.extend_from_slice(&f.data);
        }
        buf.append(&mut self.buf);
        self.buf = buf;
    }

    /// Uploads whatever is buffered, the last part possibly short, and waits
    /// until every part is confirmed.
    fn flush_tail(&mut self) -> Result<()> {
        while self.buf.len() >= self.chunk {
            self.launch(self.chunk)?;
        }
        if !self.buf.is_empty() {
            self.launch(self.buf.len())?;
        }
        while !self.flights.is_empty() {
            self.settle(true)?;
        }
        Ok(())
    }

    fn completed_parts(&self) -> Vec<CompletedPart> {
        self.parts
            .iter()
            .map(|p| CompletedPart {
                number: p.number,
                etag: p.etag.clone(),
                checksum: p.checksum.clone(),
            })
            .collect()
    }

    /// See the module docs: complete, start again, copy back whole chunks,
    /// re-buffer the remainder.
    fn restart_with_uniform_parts(&mut self) -> Result<()> {
        let op = self.op("writer (resume)");
        let total = self.uploaded;
        if let Err(e) =
            self.client
                .complete_upload(&op, &self.key, &self.upload_id, &self.completed_parts())
        {
            let _ = self.client.abort_upload(&op, &self.key, &self.upload_id);
            return Err(e);
        }
        self.upload_id.clear();
        self.parts.clear();
        self.copy_back(&op, total)
    }

    /// Starts a new upload holding the committed object's first `total`
    /// bytes: whole `chunksize` parts copied server-side, the remainder read
    /// back into the buffer ahead of what is there.
    /// With an upload already under way (a copy-back that was cut short),
    /// it goes on after the parts that upload has.
    fn copy_back(&mut self, op: &str, total: u64) -> Result<()> {
        if self.upload_id.is_empty() {
            self.upload_id = self.client.create_upload(op, &self.key, true)?;
            self.parts.clear();
        }
        let chunk = self.chunk as u64;
        self.uploaded = self.parts.len() as u64 * chunk;
        // Parts must be at least 5 MiB; chunksize always is.
        debug_assert!(chunk >= MIN_CHUNK_SIZE);
        let whole = total / chunk;
        for i in self.parts.len() as u64..whole {
            let number = i as u32 + 1;
            let range = (i * chunk, (i + 1) * chunk - 1);
            let (etag, checksum) = self.client.upload_part_copy(
                op,
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
                checksum,
            });
            self.uploaded += chunk;
        }
        let tail = self.client.get_range(op, &self.key, whole * chunk)?;
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
        // A continued committed file with nothing new stays as it is: a
        // later append finds it again.
        if self.committed || self.cancelled || self.committed_base > 0 {
            return Ok(());
        }
        self.ensure_upload()?;
        self.flush_tail()
    }

    /// Aborts the upload.
    pub fn cancel(&mut self) -> Result<()> {
        self.check_open()?;
        self.cancelled = true;
        self.buf = Vec::new();
        self.flights.clear();
        if self.upload_id.is_empty() {
            return Ok(());
        }
        self.client
            .abort_upload(&self.op("cancel"), &self.key, &self.upload_id)
    }

    /// Uploads the tail and completes the upload; a zero-byte file gets one
    /// empty part, since S3 refuses to complete an upload with none.
    pub fn commit(&mut self) -> Result<()> {
        self.check_open()?;
        let op = self.op("commit");
        if self.committed_base > 0 {
            // Nothing was written to the committed file it continues; a
            // copy-back cut short is let go.
            self.committed = true;
            if !self.upload_id.is_empty() {
                self.client.abort_upload(&op, &self.key, &self.upload_id)?;
            }
            return Ok(());
        }
        if self.upload_id.is_empty() {
            // Less than one part, never closed: one PutObject, with the
            // headers and integrity check an upload's object would get.
            let body = std::mem::take(&mut self.buf);
            let req = self.client.requests().put_object(&self.key, &body);
            if let Err(e) = self.client.call_drain(&op, req, &body) {
                self.buf = body;
                return Err(e);
            }
            self.uploaded += body.len() as u64;
            self.committed = true;
            return Ok(());
        }
        self.flush_tail()?;
        self.committed = true;
        if self.parts.is_empty() {
            let (etag, checksum) =
                self.client
                    .upload_part(&op, &self.key, &self.upload_id, 1, &[])?;
            self.parts.push(UploadedPart {
                number: 1,
                etag,
                size: 0,
                checksum,
            });
        }
        if let Err(e) =
            self.client
                .complete_upload(&op, &self.key, &self.upload_id, &self.completed_parts())
        {
            let _ = self.client.abort_upload(&op, &self.key, &self.upload_id);
            return Err(e);
        }
        Ok(())
    }
}
