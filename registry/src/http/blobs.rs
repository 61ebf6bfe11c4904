//! Blob downloads (`GET`/`HEAD`, ranges, redirects) and deletes.

use http::{Response, StatusCode, header};
use s3_driver_host::RedirectRequest;

use super::body::{self, Body};
use super::range::{Wanted, wanted};
use super::{Call, Registry, reply};
use crate::digest::Digest;
use crate::error::{ApiError, ApiResult, Failure};
use crate::names::RepoName;

fn unknown(d: &str) -> ApiError {
    ApiError::new(
        Failure::BlobUnknown,
        format!("blob {d} unknown to the repository"),
    )
}

impl Registry {
    pub(super) async fn get_blob(
        &self,
        name: &RepoName,
        digest: &str,
        call: &Call,
    ) -> ApiResult<Response<Body>> {
        let d = Digest::parse(digest)?;
        let size = self
            .store()
            .linked_blob_size(name, &d)
            .await?
            .ok_or_else(|| unknown(digest))?;
        let head = call.method == http::Method::HEAD;
        let common = |status| {
            reply(status)
                .header("Docker-Content-Digest", d.to_string())
                .header(header::ETAG, format!("\"{d}\""))
                .header(header::ACCEPT_RANGES, "bytes")
                .header(header::CONTENT_TYPE, "application/octet-stream")
        };
        if head {
            return Ok(common(StatusCode::OK)
                .header(header::CONTENT_LENGTH, size)
                .body(body::empty())
                .expect("valid reply"));
        }
        // A ranged read is served here: storages differ on ranges they
        // cannot satisfy, and the specification's 206/416 must hold.
        if self.options.redirect
            && call.header(header::RANGE).is_none()
            && let Some(url) = self
                .store()
                .blob_redirect(&d, &redirect_request(call))
                .await?
        {
            return Ok(reply(StatusCode::TEMPORARY_REDIRECT)
                .header(header::LOCATION, url)
                .header("Docker-Content-Digest", d.to_string())
                .header(header::CONTENT_LENGTH, 0)
                .body(body::empty())
                .expect("valid reply"));
        }
        let (status, start, len) = match wanted(call.header(header::RANGE), size) {
            Wanted::Whole => (StatusCode::OK, 0, size),
            Wanted::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
            Wanted::Unsatisfiable => {
                let e = ApiError::new(Failure::RangeNotSatisfiable, "range not satisfiable");
                let text = e.body();
                return Ok(reply(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(body::full(text))
                    .expect("valid reply"));
            }
        };
        let mut b = common(status).header(header::CONTENT_LENGTH, len);
        if status == StatusCode::PARTIAL_CONTENT {
            b = b.header(
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{size}", start + len - 1),
            );
        }
        let content = if len == 0 {
            body::empty()
        } else {
            let first = self.store().blob_reader(&d, start).await?;
            let driver = self.store().driver().clone();
            body::from_driver(driver, crate::layout::blob_data(&d), first, start, len)
        };
        Ok(b.body(content).expect("valid reply"))
    }

    pub(super) async fn delete_blob(
        &self,
        name: &RepoName,
        digest: &str,
    ) -> ApiResult<Response<Body>> {
        self.deletes_enabled()?;
        let d = Digest::parse(digest)?;
        if !self.store().unlink_blob(name, &d).await? {
            return Err(unknown(digest));
        }
        Ok(reply(StatusCode::ACCEPTED)
            .header(header::CONTENT_LENGTH, 0)
            .body(body::empty())
            .expect("valid reply"))
    }

    pub(super) fn deletes_enabled(&self) -> ApiResult<()> {
        if self.options.delete_enabled {
            Ok(())
        } else {
            Err(ApiError::new(
                Failure::Unsupported,
                "deletes are disabled (storage: delete: enabled: false)",
            ))
        }
    }
}

/// What the driver's redirect middleware may look at.
fn redirect_request(call: &Call) -> RedirectRequest {
    RedirectRequest {
        method: call.method.to_string(),
        remote_addr: call.peer.to_string(),
        forwarded_for: call.header("x-forwarded-for").map(str::to_owned),
        real_ip: call.header("x-real-ip").map(str::to_owned),
    }
}
