//! The multipart-upload calls the writer and the multipart copy are made of:
//! create, upload a part (at once or started and collected later), copy a
//! part, list parts, find an open upload, complete and abort. Each is one
//! S3 operation through the [`S3Client`], retried by its policy.

use std::rc::Rc;

use crate::client::{AttemptLog, ERROR_BODY_LIMIT, S3Client};
use crate::error::{Error, Result};
use crate::s3::request::CompletedPart;
use crate::s3::xml::{
    CompleteMultipartUploadResult, CopyResult, InitiateMultipartUploadResult,
    ListMultipartUploadsResult, ListPartsResult, Part,
};
use crate::transport::{Body as _, Response, Transport};

/// The ETag S3 gives an object completed from `parts`: the MD5 of the parts'
/// binary MD5s, then `-` and the part count. `None` when a part's ETag is not
/// an MD5 (some encryption modes).
pub fn multipart_etag(parts: &[CompletedPart]) -> Option<String> {
    use md5::{Digest, Md5};
    let mut all = Vec::with_capacity(parts.len() * 16);
    for p in parts {
        let raw = hex::decode(p.etag.trim_matches('"')).ok()?;
        if raw.len() != 16 {
            return None;
        }
        all.extend_from_slice(&raw);
    }
    Some(format!(
        "{}-{}",
        hex::encode(Md5::digest(&all)),
        parts.len()
    ))
}

impl<T: Transport> S3Client<T> {
    /// Starts a multipart upload with every write setting (and, for a
    /// writer's upload, the checksum algorithm); returns its id.
    pub fn create_upload(&self, op: &str, key: &str, for_writer: bool) -> Result<String> {
        let r: InitiateMultipartUploadResult = self.call_xml(
            op,
            self.requests().create_multipart_upload(key, for_writer),
            &[],
            "InitiateMultipartUploadResult",
        )?;
        Ok(r.upload_id)
    }

    /// Uploads one part and waits for it; returns its ETag and checksum.
    pub fn upload_part(
        &self,
        op: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        data: &[u8],
    ) -> Result<(String, Option<String>)> {
        let (req, checksum) = self.requests().upload_part(key, upload_id, number, data);
        let etag = self.exchange(op, &req, data, 1, |resp| self.part_etag(op, resp))?;
        Ok((etag, checksum))
    }

    /// Starts uploading part `number` without waiting: the writer keeps
    /// several under way and collects them with [`Self::finish_part`].
    /// Also returns the part's checksum for Complete.
    pub fn begin_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        data: Rc<Vec<u8>>,
        attempt: u32,
    ) -> Result<(T::Pending, Option<AttemptLog>, Option<String>)> {
        let (mut req, checksum) = self.requests().upload_part(key, upload_id, number, &data);
        self.stamp(&mut req, &data, attempt)?;
        let log = self.attempt_log(&req, attempt);
        match self.transport().begin(&req, data) {
            Ok(p) => Ok((p, log, checksum)),
            Err(e) => {
                self.log_attempt(log, None, Some(&e));
                Err(e)
            }
        }
    }

    /// Hands part bodies to the host; see [`Transport::drive`].
    pub fn drive(&self, pending: &mut [&mut T::Pending], wait: bool) -> Vec<usize> {
        self.transport().drive(pending, wait)
    }

    /// The ETag of a part started by [`Self::begin_part`], or why it failed.
    pub fn finish_part(
        &self,
        op: &str,
        pending: T::Pending,
        log: Option<AttemptLog>,
    ) -> Result<String> {
        self.reply_with(log, self.transport().complete(pending), |resp| {
            self.screen(op, resp)
                .and_then(|resp| self.part_etag(op, resp))
        })
    }

    /// Interprets a reply that arrived outside [`S3Client::exchange`], and
    /// logs the attempt.
    fn reply_with<R>(
        &self,
        log: Option<AttemptLog>,
        reply: Result<Response<T::Body>>,
        read: impl FnOnce(Response<T::Body>) -> Result<R>,
    ) -> Result<R> {
        match reply {
            Ok(resp) => {
                let head = log.is_some().then(|| {
                    let id = resp.header("x-amz-request-id").map(str::to_owned);
                    (resp.status, id)
                });
                let r = read(resp);
                let head = head.as_ref().map(|(s, id)| (*s, id.as_deref()));
                self.log_attempt(log, head, r.as_ref().err());
                r
            }
            Err(e) => {
                self.log_attempt(log, None, Some(&e));
                Err(e)
            }
        }
    }

    /// An UploadPart reply's ETag, draining the reply.
    fn part_etag(&self, op: &str, mut resp: Response<T::Body>) -> Result<String> {
        if !(200..300).contains(&resp.status) {
            return Err(self.reply_error(op, resp));
        }
        let etag = resp.header("etag").map(str::to_owned).ok_or_else(|| {
            Error::MalformedResponse(format!("{op}: UploadPart reply without ETag"))
        })?;
        resp.body.read_to_end(ERROR_BODY_LIMIT)?;
        Ok(etag)
    }

    /// Copies bytes `range` (inclusive) of `source_key` into part `number`;
    /// returns its ETag and, in an upload with a checksum algorithm, the
    /// checksum the server computed.
    pub fn upload_part_copy(
        &self,
        op: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        source_key: &str,
        range: (u64, u64),
    ) -> Result<(String, Option<String>)> {
        let req = self
            .requests()
            .upload_part_copy(key, upload_id, number, source_key, Some(range));
        let r: CopyResult = self.call_xml(op, req, &[], "CopyPartResult")?;
        let checksum = self.requests().pick_checksum(&(&r).into());
        Ok((r.etag, checksum))
    }

    /// Completes an upload; the object becomes visible.
    pub fn complete_upload(
        &self,
        op: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> Result<()> {
        let (req, body) = self
            .requests()
            .complete_multipart_upload(key, upload_id, parts);
        match self.call_xml::<CompleteMultipartUploadResult>(
            op,
            req,
            &body,
            "CompleteMultipartUploadResult",
        ) {
            Ok(_) => Ok(()),
            // An earlier attempt may have completed it and lost the reply:
            // the object then carries exactly this upload's multipart ETag.
            Err(Error::Backend(b)) if b.code == "NoSuchUpload" => {
                let found = self.head_object(op, key).map(|h| h.and_then(|h| h.etag));
                match (found, multipart_etag(parts)) {
                    (Ok(Some(found)), Some(expected)) if found == expected => Ok(()),
                    _ => Err(Error::Backend(b)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Aborts an upload.
    pub fn abort_upload(&self, op: &str, key: &str, upload_id: &str) -> Result<()> {
        self.call_drain(
            op,
            self.requests().abort_multipart_upload(key, upload_id),
            &[],
        )
    }

    /// The id of an open upload of exactly `key`, paging with both markers.
    pub fn find_upload(&self, op: &str, key: &str) -> Result<Option<String>> {
        let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let req = self.requests().list_multipart_uploads(
                key,
                key_marker.as_deref(),
                id_marker.as_deref(),
            );
            let page: ListMultipartUploadsResult =
                self.call_xml(op, req, &[], "ListMultipartUploadsResult")?;
            if let Some(u) = page.uploads.iter().find(|u| u.key == key) {
                return Ok(Some(u.upload_id.clone()));
            }
            if !page.is_truncated {
                return Ok(None);
            }
            if page.next_key_marker.is_none() && page.next_upload_id_marker.is_none() {
                return Err(Error::MalformedResponse(format!(
                    "{op}: truncated upload listing without markers"
                )));
            }
            key_marker = page.next_key_marker;
            id_marker = page.next_upload_id_marker;
        }
    }

    /// Every part of an upload, paging through ListParts (layers over 10 GB
    /// have more than one page).
    pub fn list_parts(&self, op: &str, key: &str, upload_id: &str) -> Result<Vec<Part>> {
        let mut parts = Vec::new();
        let mut marker = None;
        loop {
            let page: ListPartsResult = self.call_xml(
                op,
                self.requests().list_parts(key, upload_id, marker),
                &[],
                "ListPartsResult",
            )?;
            parts.extend(page.parts);
            if !page.is_truncated {
                break;
            }
            marker = Some(page.next_part_number_marker.ok_or_else(|| {
                Error::MalformedResponse(format!("{op}: truncated part listing without marker"))
            })?);
        }
        parts.sort_by_key(|p| p.part_number);
        Ok(parts)
    }

    /// Copies `src` to `dst` in `multipartcopychunksize` ranges, up to
    /// `multipartcopymaxconcurrency` UploadPartCopy requests in flight; a
    /// part that failed in the batch gets its remaining attempts alone.
    /// Unlike the reference, a failed copy leaves no upload behind.
    pub fn multipart_copy(&self, op: &str, src: &str, dst: &str, size: u64) -> Result<()> {
        // Server-side copies: no body crosses the network, so no checksum.
        let upload_id = self.create_upload(op, dst, false)?;
        self.copy_parts(op, src, dst, &upload_id, size)
            .and_then(|parts| self.complete_upload(op, dst, &upload_id, &parts))
            .inspect_err(|_| {
                let _ = self.abort_upload(op, dst, &upload_id);
            })
    }

    fn copy_parts(
        &self,
        op: &str,
        src: &str,
        dst: &str,
        upload_id: &str,
        size: u64,
    ) -> Result<Vec<CompletedPart>> {
        let chunk = self.config().multipart_copy_chunk_size;
        let limit = self
            .config()
            .multipart_copy_max_concurrency
            .min(usize::MAX as u64) as usize;
        let mut ranges = Vec::new();
        let mut first = 0u64;
        while first < size {
            let last = (first + chunk).min(size) - 1;
            ranges.push((first, last));
            first = last + 1;
        }
        let request = |i: usize| {
            self.requests()
                .upload_part_copy(dst, upload_id, i as u32 + 1, src, Some(ranges[i]))
        };
        let mut requests = Vec::with_capacity(ranges.len());
        let mut logs = Vec::with_capacity(ranges.len());
        for i in 0..ranges.len() {
            let mut req = request(i);
            self.stamp(&mut req, &[], 1)?;
            logs.push(self.attempt_log(&req, 1));
            requests.push(req);
        }
        let mut parts = Vec::with_capacity(requests.len());
        let replies = self.transport().send_many(&requests, limit);
        for (i, (reply, log)) in replies.into_iter().zip(logs).enumerate() {
            let first: Result<CopyResult> = self.reply_with(log, reply, |resp| {
                self.screen(op, resp)
                    .and_then(|resp| self.read_xml(op, resp, "CopyPartResult"))
            });
            let r = match first {
                Err(e) if e.retryable() && self.config().retry.max_attempts > 1 => {
                    self.exchange(op, &request(i), &[], 2, |resp| {
                        self.read_xml(op, resp, "CopyPartResult")
                    })?
                }
                other => other?,
            };
            parts.push(CompletedPart {
                number: i as u32 + 1,
                etag: r.etag,
                checksum: None,
            });
        }
        Ok(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_etag_is_the_md5_of_the_part_md5s() {
        let part = |number, etag: &str| CompletedPart {
            number,
            etag: etag.into(),
            checksum: None,
        };
        let parts = [
            part(1, "\"0cc175b9c0f1b6a831c399e269772661\""),
            part(2, "92eb5ffee6ae2fec3ad71c777531578f"),
        ];
        assert_eq!(
            multipart_etag(&parts).as_deref(),
            Some("96e024ba2074fe77e8e965ba43a704be-2")
        );
        // An ETag that is not an MD5 (SSE-KMS) gives no expectation.
        assert_eq!(multipart_etag(&[part(1, "\"abc-1\"")]), None);
    }
}
