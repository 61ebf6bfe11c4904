//! Blob uploads: sessions (`POST`), chunks (`PATCH`), the closing `PUT` with
//! its digest check, status, cancel, monolithic `POST ?digest=` and
//! cross-repository mounts. Each request resumes the session's writer from
//! the bucket and leaves it closed, with the SHA-256 state saved at the new
//! offset, so the next request may go to any registry process.

use http::{Response, StatusCode, header};
use s3_driver_host::Writer;

use super::body::{self, Body, Incoming, into_writer};
use super::range::chunk_range;
use super::{BodySlot, Call, Registry, SessionGuard, reply};
use crate::digest::{Algorithm, Digest, Hasher, Sha256State};
use crate::error::{ApiError, ApiResult, Failure};
use crate::layout;
use crate::names::RepoName;
use crate::store::uploads::valid_upload_id;

/// The smallest chunk worth sending: S3's smallest multipart part. Smaller
/// chunks work, but each costs the driver a re-upload of the short tail.
const CHUNK_MIN: u64 = 5 << 20;

fn upload_unknown(id: &str) -> ApiError {
    ApiError::new(Failure::UploadUnknown, format!("upload {id} unknown"))
}

/// `Range: 0-<last byte>`, as Distribution writes it (`0-0` when empty).
fn range_header(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

fn session_reply(
    status: StatusCode,
    name: &RepoName,
    id: &str,
    size: u64,
) -> http::response::Builder {
    reply(status)
        .header(header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}"))
        .header(header::RANGE, range_header(size))
        .header("Docker-Upload-UUID", id)
        .header(header::CONTENT_LENGTH, 0)
}

/// A refused chunk's reply says where the session stands, as a status
/// request would.
fn with_session(e: ApiError, name: &RepoName, id: &str, size: u64) -> ApiError {
    e.with_header("Location", format!("/v2/{name}/blobs/uploads/{id}"))
        .with_header("Range", range_header(size))
        .with_header("Docker-Upload-UUID", id.to_owned())
}

fn created(name: &RepoName, d: &Digest) -> ApiResult<Response<Body>> {
    Ok(reply(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{name}/blobs/{d}"))
        .header("Docker-Content-Digest", d.to_string())
        .header(header::CONTENT_LENGTH, 0)
        .body(body::empty())
        .expect("valid reply"))
}

/// Where a request's body lands in its upload: after `base` bytes, and
/// `expected` long when the request said so.
struct Landing {
    base: u64,
    expected: Option<u64>,
}

/// The body length the request announces, if any.
fn content_length(call: &Call) -> Option<u64> {
    call.header(header::CONTENT_LENGTH)?.trim().parse().ok()
}

/// Checks a chunk's `Content-Range` against the session's size: a chunk
/// that does not start at the end is `416`; a length that disagrees with
/// the range is `SIZE_INVALID`.
fn check_chunk(call: &Call, size: u64) -> ApiResult<()> {
    let Some(h) = call.header(header::CONTENT_RANGE) else {
        return Ok(());
    };
    let (start, end) = chunk_range(h).ok_or_else(|| {
        ApiError::new(
            Failure::UploadInvalid,
            format!("invalid Content-Range {h:?}"),
        )
    })?;
    if start != size {
        return Err(ApiError::new(
            Failure::UploadRange,
            format!("chunk starts at {start}; the upload has {size} bytes"),
        ));
    }
    if content_length(call).is_some_and(|l| l != end - start + 1) {
        return Err(ApiError::new(
            Failure::SizeInvalid,
            "Content-Length does not match Content-Range",
        ));
    }
    Ok(())
}

impl Registry {
    /// The time now, RFC 3339 (with milliseconds, which the Go registry's
    /// RFC 3339 parser takes), for `startedat`.
    fn now() -> String {
        humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
    }

    pub(super) async fn start_upload(
        &self,
        name: &RepoName,
        call: Call,
        body: &BodySlot,
    ) -> ApiResult<Response<Body>> {
        // A mount names the repository it takes the blob from; without
        // `from` it is an ordinary session, as in Distribution (a blob is
        // never linked into a repository on its digest alone).
        if let (Some(mount), Some(from)) = (call.param("mount"), call.param("from")) {
            let d = Digest::parse(mount)?;
            if self.mount(name, &d, from).await? {
                return created(name, &d);
            }
        } else if let Some(digest) = call.param("digest") {
            let d = Digest::parse(digest)?;
            return self.monolithic(name, &d, &call, body).await;
        }
        if let Some(a) = call.param("digest-algorithm")
            && Algorithm::parse(a).is_none()
        {
            return Err(ApiError::new(
                Failure::DigestInvalid,
                format!("unsupported digest algorithm {a:?}"),
            ));
        }
        let id = self.store().start_upload(name, &Self::now()).await?;
        Ok(session_reply(StatusCode::ACCEPTED, name, &id, 0)
            .header("OCI-Chunk-Min-Length", CHUNK_MIN)
            .body(body::empty())
            .expect("valid reply"))
    }

    /// Links the blob into `name` when `from` has it; false otherwise.
    async fn mount(&self, name: &RepoName, d: &Digest, from: &str) -> ApiResult<bool> {
        let present = match RepoName::parse(from) {
            Some(from) => self.store().linked_blob_size(&from, d).await?.is_some(),
            None => false,
        };
        if present {
            self.store().link_blob(name, d).await?;
        }
        Ok(present)
    }

    /// `POST ?digest=` with the whole blob as its body.
    async fn monolithic(
        &self,
        name: &RepoName,
        d: &Digest,
        call: &Call,
        body: &BodySlot,
    ) -> ApiResult<Response<Body>> {
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        let mut incoming = self.incoming(body);
        let first = incoming.batch().await;
        let mut w = self
            .store()
            .driver()
            .writer(&layout::upload_data(name, &id), false)
            .await
            .map_err(ApiError::storage)?;
        let expected = content_length(call);
        let pumped = into_writer(&mut incoming, first, &mut w, None).await;
        let at = Landing { base: 0, expected };
        self.finish(name, &id, d, w, pumped, at).await
    }

    async fn open_session(&self, name: &RepoName, id: &str) -> ApiResult<Writer> {
        if !valid_upload_id(id) || !self.store().upload_exists(name, id).await? {
            return Err(upload_unknown(id));
        }
        self.store().resume_upload(name, id).await
    }

    /// The session for this request alone, or `416` while another request
    /// writes to it (its bytes would interleave with this one's).
    fn hold(&self, name: &RepoName, id: &str) -> ApiResult<SessionGuard> {
        self.hold_session(id).ok_or_else(|| {
            ApiError::new(
                Failure::UploadRange,
                format!("another request is writing to upload {id}"),
            )
            .with_header("Location", format!("/v2/{name}/blobs/uploads/{id}"))
            .with_header("Docker-Upload-UUID", id.to_owned())
        })
    }

    /// The request body, read with the configured idle limit.
    fn incoming<'a>(&self, body: &'a BodySlot) -> Incoming<'a> {
        Incoming::new(body, self.options.limits.body_timeout)
    }

    /// The SHA-256 state at `offset`: in memory, else saved in the bucket,
    /// else fresh at 0; `None` when no state reaches the offset.
    async fn state_at(
        &self,
        name: &RepoName,
        id: &str,
        offset: u64,
    ) -> ApiResult<Option<Sha256State>> {
        if offset == 0 {
            return Ok(Some(Sha256State::default()));
        }
        if let Some(s) = self.remembered_state(id, offset) {
            return Ok(Some(s));
        }
        self.store().upload_state(name, id, offset).await
    }

    pub(super) async fn patch_upload(
        &self,
        name: &RepoName,
        id: &str,
        call: Call,
        body: &BodySlot,
    ) -> ApiResult<Response<Body>> {
        let _held = self.hold(name, id)?;
        // The first batch arrives before an instance is taken for the writer.
        let mut incoming = self.incoming(body);
        let first = incoming.batch().await;
        let mut w = self.open_session(name, id).await?;
        let size = w.size().await.map_err(ApiError::storage)?;
        if let Err(e) = check_chunk(&call, size) {
            w.close().await.map_err(ApiError::storage)?;
            return Err(with_session(e, name, id, size));
        }
        let mut state = self.state_at(name, id, size).await?;
        let pumped = into_writer(&mut incoming, first, &mut w, state.as_mut()).await?;
        w.close().await.map_err(ApiError::storage)?;
        let now = size + pumped.written;
        if let Some(s) = state.filter(|s| s.len() == now) {
            self.store().save_upload_state(name, id, &s).await?;
            self.remember_state(id, Some(s));
        } else {
            self.remember_state(id, None);
        }
        if let Some(why) = pumped.broken {
            return Err(ApiError::new(
                Failure::UploadInvalid,
                format!(
                    "the chunk's body broke off after {} bytes: {why}",
                    pumped.written
                ),
            ));
        }
        Ok(session_reply(StatusCode::ACCEPTED, name, id, now)
            .body(body::empty())
            .expect("valid reply"))
    }

    pub(super) async fn finish_upload(
        &self,
        name: &RepoName,
        id: &str,
        call: Call,
        body: &BodySlot,
    ) -> ApiResult<Response<Body>> {
        let d = Digest::parse(call.param("digest").ok_or_else(|| {
            ApiError::new(Failure::DigestInvalid, "the closing PUT needs ?digest=")
        })?)?;
        let _held = self.hold(name, id)?;
        let mut incoming = self.incoming(body);
        let first = incoming.batch().await;
        let mut w = self.open_session(name, id).await?;
        let size = w.size().await.map_err(ApiError::storage)?;
        if let Err(e) = check_chunk(&call, size) {
            w.close().await.map_err(ApiError::storage)?;
            return Err(with_session(e, name, id, size));
        }
        let expected = content_length(&call);
        let pumped = into_writer(&mut incoming, first, &mut w, None).await;
        let at = Landing {
            base: size,
            expected,
        };
        self.finish(name, id, &d, w, pumped, at).await
    }

    /// Commits the session's content, checks its digest by reading back
    /// what was committed, and publishes it; a mismatch removes the session
    /// and publishes nothing. The saved hash states are not trusted here:
    /// two requests of different processes writing to one session can leave
    /// a state that does not describe the content.
    async fn finish(
        &self,
        name: &RepoName,
        id: &str,
        d: &Digest,
        mut w: Writer,
        pumped: ApiResult<body::Pumped>,
        at: Landing,
    ) -> ApiResult<Response<Body>> {
        let pumped = match pumped {
            Ok(p) if p.broken.is_none() => p,
            Ok(p) => {
                let _ = w.close().await;
                return Err(ApiError::new(
                    Failure::UploadInvalid,
                    format!("the body broke off: {}", p.broken.unwrap_or_default()),
                ));
            }
            Err(e) => {
                let _ = w.close().await;
                return Err(e);
            }
        };
        self.remember_state(id, None);
        if at.expected.is_some_and(|l| l != pumped.written) {
            let _ = w.cancel().await;
            self.store().end_upload(name, id).await?;
            return Err(ApiError::new(
                Failure::SizeInvalid,
                "the body is not Content-Length bytes",
            ));
        }
        w.commit().await.map_err(ApiError::storage)?;
        drop(w);
        let (actual, total) = self.digest_of_content(name, id, d.algorithm()).await?;
        if total != at.base + pumped.written {
            tracing::warn!(
                upload = id,
                committed = total,
                expected = at.base + pumped.written,
                "an upload's committed size differs from what its requests wrote"
            );
        }
        if &actual != d {
            self.store().end_upload(name, id).await?;
            return Err(ApiError::new(
                Failure::DigestInvalid,
                format!("the content's digest is {actual}, not {d}"),
            ));
        }
        self.store().publish_upload(name, id, d, total).await?;
        self.store().link_blob(name, d).await?;
        created(name, d)
    }

    /// Reads a committed upload back: its digest and its size.
    async fn digest_of_content(
        &self,
        name: &RepoName,
        id: &str,
        a: Algorithm,
    ) -> ApiResult<(Digest, u64)> {
        let mut r = self.store().upload_content_reader(name, id).await?;
        let mut h = Hasher::new(a);
        let mut size = 0u64;
        loop {
            let chunk = r
                .read(body::BATCH as u32)
                .await
                .map_err(ApiError::storage)?;
            if chunk.is_empty() {
                return Ok((h.finish(), size));
            }
            size += chunk.len() as u64;
            h.update(&chunk);
        }
    }

    pub(super) async fn upload_status(
        &self,
        name: &RepoName,
        id: &str,
    ) -> ApiResult<Response<Body>> {
        let mut w = self.open_session(name, id).await?;
        let size = w.size().await.map_err(ApiError::storage)?;
        w.close().await.map_err(ApiError::storage)?;
        Ok(session_reply(StatusCode::NO_CONTENT, name, id, size)
            .body(body::empty())
            .expect("valid reply"))
    }

    pub(super) async fn cancel_upload(
        &self,
        name: &RepoName,
        id: &str,
    ) -> ApiResult<Response<Body>> {
        if !valid_upload_id(id) || !self.store().upload_exists(name, id).await? {
            return Err(upload_unknown(id));
        }
        self.remember_state(id, None);
        self.store().cancel_upload(name, id).await?;
        Ok(reply(StatusCode::NO_CONTENT)
            .body(body::empty())
            .expect("valid reply"))
    }
}
