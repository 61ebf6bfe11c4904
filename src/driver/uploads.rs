//! In-progress multipart uploads under the root directory: the listing and
//! the abort that `s3-driver uploads` and the `maintenance` interface offer
//! (the reference never cleans them; each costs storage until aborted).
//! Only keys under the root directory are listed, and an abort names a
//! storage path, so nothing outside it can be touched.

use super::S3Driver;
use crate::error::{Error, Result};
use crate::path;
use crate::s3::xml::ListMultipartUploadsResult;
use crate::time::UtcDateTime;
use crate::transport::Transport;

/// An in-progress multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    /// The storage path it uploads to.
    pub path: String,
    /// Its upload id.
    pub upload_id: String,
    /// When it was started, if the server says.
    pub initiated: Option<UtcDateTime>,
    /// Parts uploaded so far.
    pub parts: u32,
    /// Bytes in those parts.
    pub bytes: u64,
}

impl<T: Transport> S3Driver<T> {
    /// Every in-progress upload of `path` or below it, in key order.
    pub fn uploads(&self, path: &str) -> Result<Vec<UploadInfo>> {
        path::check_or_root(path)?;
        let op = format!("uploads {path}");
        let below = self.keys.dir_prefix(path);
        let exact = (path != "/").then(|| self.keys.key(path));
        let prefix = exact.clone().unwrap_or_else(|| below.clone());
        let mut out = Vec::new();
        let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let req = self.client.requests().list_multipart_uploads(
                &prefix,
                key_marker.as_deref(),
                id_marker.as_deref(),
            );
            let page: ListMultipartUploadsResult =
                self.client
                    .call_xml(&op, req, &[], "ListMultipartUploadsResult")?;
            for u in page.uploads {
                // `prefix` also matches siblings (`/a` lists `/ab`).
                if exact.as_deref() != Some(u.key.as_str()) && !u.key.starts_with(&below) {
                    continue;
                }
                let parts = self.client.list_parts(&op, &u.key, &u.upload_id)?;
                out.push(UploadInfo {
                    path: self.keys.path(&u.key),
                    initiated: u.initiated.as_deref().and_then(UtcDateTime::parse_iso8601),
                    parts: parts.len() as u32,
                    bytes: parts.iter().map(|p| p.size).sum(),
                    upload_id: u.upload_id,
                });
            }
            if !page.is_truncated {
                return Ok(out);
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

    /// Aborts the upload `upload_id` of `path`: its parts are deleted and
    /// nothing is published.
    pub fn abort_upload(&self, path: &str, upload_id: &str) -> Result<()> {
        path::check(path)?;
        if upload_id.is_empty() {
            return Err(Error::InvalidState("an upload id is required".into()));
        }
        self.client.abort_upload(
            &format!("abort-upload {path}"),
            &self.keys.key(path),
            upload_id,
        )
    }
}
