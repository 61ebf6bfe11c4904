//! In-progress multipart uploads (the component's `maintenance` interface):
//! listing, aborting, and purging by age, which `s3-driver uploads --abort`
//! runs and a registry can run on a schedule. The age comes from S3's
//! `Initiated`; an upload without one is never purged.

// `CallError` carries the WIT error by value; see `error.rs`.
#![allow(clippy::result_large_err)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::pool::{call, driver_err, observed};
use super::{CallResult, Driver};
use crate::Upload;

/// What a purge did with one upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeAction {
    /// Younger than the cut.
    Kept,
    /// S3 did not say when it started.
    KeptAgeUnknown,
    /// Older than the cut; a dry run.
    WouldAbort,
    /// Older than the cut, and aborted.
    Aborted,
}

/// One upload a purge looked at.
#[derive(Debug, Clone, PartialEq)]
pub struct Purged {
    /// The upload.
    pub upload: Upload,
    /// How long ago it started, if known.
    pub age: Option<Duration>,
    /// What was done.
    pub action: PurgeAction,
}

impl Driver {
    /// Every in-progress multipart upload of `path` or below it: uploads
    /// left by writers closed and never committed, or by a process that
    /// died. Keys outside the root directory are never listed.
    pub async fn list_uploads(&self, path: &str) -> CallResult<Vec<Upload>> {
        observed(&self.shared.metrics, "list-uploads", path, async {
            let mut lease = self.lease().await?;
            let h = lease.handle();
            driver_err(call!(&mut lease, maintenance, call_list_uploads(h, path))?)
        })
        .await
    }

    /// Aborts one in-progress multipart upload of `path`.
    pub async fn abort_upload(&self, path: &str, upload_id: &str) -> CallResult<()> {
        observed(&self.shared.metrics, "abort-upload", path, async {
            let mut lease = self.lease().await?;
            let h = lease.handle();
            driver_err(call!(
                &mut lease,
                maintenance,
                call_abort_upload(h, path, upload_id)
            )?)
        })
        .await
    }

    /// Aborts the uploads below `path` that started at least `older_than`
    /// ago (with `dry_run`, only says which). A live writer's upload is as
    /// old as its first part: keep the cut well above the longest upload.
    pub async fn purge_uploads(
        &self,
        path: &str,
        older_than: Duration,
        dry_run: bool,
    ) -> CallResult<Vec<Purged>> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut out = Vec::new();
        for upload in self.list_uploads(path).await? {
            let age = upload
                .initiated
                .map(|t| now.saturating_sub(Duration::new(t.seconds.max(0) as u64, t.nanoseconds)));
            let action = match age {
                None => PurgeAction::KeptAgeUnknown,
                Some(a) if a < older_than => PurgeAction::Kept,
                Some(_) if dry_run => PurgeAction::WouldAbort,
                Some(_) => {
                    self.abort_upload(&upload.path, &upload.upload_id).await?;
                    PurgeAction::Aborted
                }
            };
            out.push(Purged {
                upload,
                age,
                action,
            });
        }
        Ok(out)
    }
}
