//! The catalog: repositories are the directories holding `_layers` (a
//! repository with blobs and no manifest yet is one), found by a walk of the
//! repositories root in the storage's key order, as the Go registry finds
//! them (so both list and page the same way).

use s3_driver_host::WalkControl;

use super::Store;
use crate::error::{ApiError, ApiResult};
use crate::layout;

impl Store {
    /// Up to `n` repository names after `last`, and whether more follow.
    pub async fn repositories(
        &self,
        n: usize,
        last: Option<&str>,
    ) -> ApiResult<(Vec<String>, bool)> {
        let root = layout::repositories_root();
        // Any `last` pages (names after it, bytewise); only a valid name can
        // also be where the walk starts.
        let hint = last
            .filter(|l| crate::names::RepoName::parse(l).is_some())
            .map(|l| format!("{root}/{l}/_layers"));
        let mut found = Vec::new();
        let mut more = false;
        let walked = self
            .driver()
            .walk_with(&root, hint.as_deref(), |info| {
                let Some(rel) = info
                    .path
                    .strip_prefix(&root)
                    .map(|r| r.trim_start_matches('/'))
                else {
                    return WalkControl::Continue;
                };
                let (parent, file) = rel.rsplit_once('/').unwrap_or(("", rel));
                if file == "_layers" {
                    if last.is_none_or(|l| parent > l) && !parent.is_empty() {
                        if found.len() == n {
                            more = true;
                            return WalkControl::Stop;
                        }
                        found.push(parent.to_owned());
                    }
                    return WalkControl::SkipDir;
                }
                if file.starts_with('_') {
                    return WalkControl::SkipDir;
                }
                WalkControl::Continue
            })
            .await;
        match walked {
            Ok(()) => Ok((found, more)),
            Err(e) if crate::error::is_not_found(&e) => Ok((Vec::new(), false)),
            Err(e) => Err(ApiError::storage(e)),
        }
    }
}
