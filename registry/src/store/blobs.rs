//! Blobs: the content-addressed store and the links that make a blob part
//! of a repository.

use s3_driver_host::{Reader, RedirectRequest};

use super::Store;
use crate::digest::Digest;
use crate::error::{ApiError, ApiResult};
use crate::layout;
use crate::names::RepoName;

impl Store {
    /// The size of a blob the repository links; `None` when it has no link
    /// or the blob itself is gone.
    pub async fn linked_blob_size(&self, name: &RepoName, d: &Digest) -> ApiResult<Option<u64>> {
        if self
            .read_link(&layout::layer_link(name, d))
            .await?
            .is_none()
        {
            return Ok(None);
        }
        self.blob_size(d).await
    }

    /// The size of a blob in the registry, linked anywhere or not.
    pub async fn blob_size(&self, d: &Digest) -> ApiResult<Option<u64>> {
        self.size_of(&layout::blob_data(d)).await
    }

    /// Links a blob into the repository.
    pub async fn link_blob(&self, name: &RepoName, d: &Digest) -> ApiResult<()> {
        self.write_link(&layout::layer_link(name, d), d).await
    }

    /// Removes the repository's link to a blob (the content stays for other
    /// repositories, as in the Go registry); false when there was none.
    pub async fn unlink_blob(&self, name: &RepoName, d: &Digest) -> ApiResult<bool> {
        self.delete_tree(&layout::layer_dir(name, d)).await
    }

    /// Stores `bytes` as the blob `d` (the caller computed `d` from them).
    pub async fn put_blob(&self, d: &Digest, bytes: &[u8]) -> ApiResult<()> {
        self.driver()
            .put_content(&layout::blob_data(d), bytes)
            .await
            .map_err(ApiError::storage)
    }

    /// The blob's whole content.
    pub async fn blob_content(&self, d: &Digest) -> ApiResult<Vec<u8>> {
        self.driver()
            .get_content(&layout::blob_data(d))
            .await
            .map_err(ApiError::storage)
    }

    /// A reader of the blob from `offset`.
    pub async fn blob_reader(&self, d: &Digest, offset: u64) -> ApiResult<Reader> {
        self.driver()
            .reader(&layout::blob_data(d), offset as i64)
            .await
            .map_err(ApiError::storage)
    }

    /// Where the client may fetch the blob directly (a presigned S3 or
    /// CloudFront URL), if the driver and its middleware give one.
    pub async fn blob_redirect(
        &self,
        d: &Digest,
        request: &RedirectRequest,
    ) -> ApiResult<Option<String>> {
        self.driver()
            .redirect_url(request, &layout::blob_data(d))
            .await
            .map_err(ApiError::storage)
    }
}
