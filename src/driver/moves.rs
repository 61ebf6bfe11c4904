//! `move`: CopyObject up to `multipartcopythresholdsize`, a multipart copy
//! above it, then the source object is deleted.

use super::S3Driver;
use crate::error::{Error, Result};
use crate::path;
use crate::s3::xml::CopyResult;
use crate::transport::Transport;

impl<T: Transport> S3Driver<T> {
    /// Moves `source` to `destination`, replacing it; then deletes the source
    /// object (only it: the reference's `Delete(src)` would also remove keys
    /// below `src/`).
    pub fn move_(&self, source: &str, destination: &str) -> Result<()> {
        path::check(source)?;
        path::check(destination)?;
        let op = format!("move {source} {destination}");
        let info = self.stat(source)?;
        let missing = || Error::PathNotFound {
            path: source.to_owned(),
        };
        if info.is_dir {
            return Err(missing());
        }
        let (src, dst) = (self.keys.key(source), self.keys.key(destination));
        if info.size <= self.config().multipart_copy_threshold_size {
            let req = self.client.requests().copy_object(&src, &dst);
            match self
                .client
                .call_xml::<CopyResult>(&op, req, &[], "CopyObjectResult")
            {
                Err(e) if e.is_not_found() => return Err(missing()),
                other => other?,
            };
        } else {
            self.client.multipart_copy(&op, &src, &dst, info.size)?;
        }
        self.client
            .call_drain(&op, self.client.requests().delete_object(&src), &[])
    }
}
