//! The registry's storage: Distribution's layout ([`crate::layout`]) kept
//! through an opened [`Driver`], one file per kind of content. Nothing here
//! speaks HTTP; every S3 request is the driver component's.

pub mod blobs;
pub mod catalog;
pub mod manifests;
pub mod referrers;
pub mod uploads;

use s3_driver_host::Driver;

use crate::digest::Digest;
use crate::error::{ApiError, ApiResult, is_not_found};

/// The registry's content on one driver. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    driver: Driver,
}

impl Store {
    /// Content kept through `driver`.
    pub fn new(driver: Driver) -> Self {
        Self { driver }
    }

    /// The driver underneath.
    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    /// The digest a link file holds; `None` when the link does not exist.
    /// A link that does not hold a digest counts as absent, as in the Go
    /// registry (which fails the request instead; absent is the safer read).
    pub(crate) async fn read_link(&self, path: &str) -> ApiResult<Option<Digest>> {
        match self.driver.get_content(path).await {
            Ok(bytes) => Ok(std::str::from_utf8(&bytes)
                .ok()
                .and_then(|s| Digest::parse(s.trim()).ok())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(ApiError::storage(e)),
        }
    }

    /// Writes a link file holding `digest`.
    pub(crate) async fn write_link(&self, path: &str, digest: &Digest) -> ApiResult<()> {
        self.driver
            .put_content(path, digest.to_string().as_bytes())
            .await
            .map_err(ApiError::storage)
    }

    /// The size of the object at `path`; `None` when it does not exist.
    pub(crate) async fn size_of(&self, path: &str) -> ApiResult<Option<u64>> {
        match self.driver.stat(path).await {
            Ok(info) if !info.is_dir => Ok(Some(info.size)),
            Ok(_) => Ok(None),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(ApiError::storage(e)),
        }
    }

    /// Deletes `path` and everything below it; true when something was there.
    pub(crate) async fn delete_tree(&self, path: &str) -> ApiResult<bool> {
        match self.driver.delete(path).await {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(ApiError::storage(e)),
        }
    }

    /// The names directly below `dir` (last path segment only), sorted;
    /// empty when `dir` does not exist.
    pub(crate) async fn children(&self, dir: &str) -> ApiResult<Vec<String>> {
        match self.driver.list(dir).await {
            Ok(paths) => {
                let mut names: Vec<String> = paths
                    .iter()
                    .filter_map(|p| p.rsplit('/').next())
                    .map(str::to_owned)
                    .collect();
                names.sort();
                Ok(names)
            }
            Err(e) if is_not_found(&e) => Ok(Vec::new()),
            Err(e) => Err(ApiError::storage(e)),
        }
    }
}
