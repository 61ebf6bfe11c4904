//! Upload sessions: `_uploads/<id>/` with `startedat`, the content as an
//! open multipart upload at `data` (the driver's resumable writer), and the
//! SHA-256 state after each request at `hashstates/sha256/<offset>`. All of
//! it is in the bucket, so a session survives a restart and can move
//! between registry processes from one request to the next.

use s3_driver_host::Writer;

use super::Store;
use crate::digest::Sha256State;
use crate::error::{ApiError, ApiResult, Failure, is_not_found};
use crate::layout;
use crate::names::RepoName;

/// An upload id is a UUID this registry made; anything else is refused
/// before it becomes part of a path.
pub fn valid_upload_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id)
}

impl Store {
    /// Starts a session: its start time, and an empty multipart upload for
    /// its content (closed, to be resumed by each request). `now` is the
    /// RFC 3339 start time.
    pub async fn start_upload(&self, name: &RepoName, now: &str) -> ApiResult<String> {
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        self.driver()
            .put_content(&layout::upload_started_at(name, &id), now.as_bytes())
            .await
            .map_err(ApiError::storage)?;
        let mut w = self
            .driver()
            .writer(&layout::upload_data(name, &id), false)
            .await
            .map_err(ApiError::storage)?;
        w.close().await.map_err(ApiError::storage)?;
        Ok(id)
    }

    /// True when the session exists.
    pub async fn upload_exists(&self, name: &RepoName, id: &str) -> ApiResult<bool> {
        Ok(self
            .size_of(&layout::upload_started_at(name, id))
            .await?
            .is_some())
    }

    /// The session's content writer, resumed where the last request left it.
    pub async fn resume_upload(&self, name: &RepoName, id: &str) -> ApiResult<Writer> {
        match self
            .driver()
            .writer(&layout::upload_data(name, id), true)
            .await
        {
            Ok(w) => Ok(w),
            Err(e) if is_not_found(&e) => Err(ApiError::new(
                Failure::UploadUnknown,
                format!("upload {id} has no content in progress"),
            )),
            Err(e) => Err(ApiError::storage(e)),
        }
    }

    /// The SHA-256 state saved at `offset`, if one was (by this registry or
    /// the Go registry) and it parses.
    pub async fn upload_state(
        &self,
        name: &RepoName,
        id: &str,
        offset: u64,
    ) -> ApiResult<Option<Sha256State>> {
        match self
            .driver()
            .get_content(&layout::upload_hash_state(name, id, offset))
            .await
        {
            Ok(b) => Ok(Sha256State::from_go_bytes(&b).filter(|s| s.len() == offset)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(ApiError::storage(e)),
        }
    }

    /// Saves the SHA-256 state at its offset.
    pub async fn save_upload_state(
        &self,
        name: &RepoName,
        id: &str,
        state: &Sha256State,
    ) -> ApiResult<()> {
        self.driver()
            .put_content(
                &layout::upload_hash_state(name, id, state.len()),
                &state.to_go_bytes(),
            )
            .await
            .map_err(ApiError::storage)
    }

    /// The committed content of a session (for hashing it when no state
    /// reaches its end).
    pub async fn upload_content_reader(
        &self,
        name: &RepoName,
        id: &str,
    ) -> ApiResult<s3_driver_host::Reader> {
        self.driver()
            .reader(&layout::upload_data(name, id), 0)
            .await
            .map_err(ApiError::storage)
    }

    /// Moves a session's committed content to the blob store (unless the
    /// blob is already there) and removes the session.
    pub async fn publish_upload(
        &self,
        name: &RepoName,
        id: &str,
        d: &crate::digest::Digest,
        size: u64,
    ) -> ApiResult<()> {
        let data = layout::upload_data(name, id);
        if self.blob_size(d).await?.is_none() {
            if size == 0 {
                // Nothing to move; an empty object is written directly.
                self.put_blob(d, &[]).await?;
            } else {
                self.driver()
                    .move_(&data, &layout::blob_data(d))
                    .await
                    .map_err(ApiError::storage)?;
            }
        }
        self.end_upload(name, id).await
    }

    /// Removes the session's directory (content, states, start time).
    pub async fn end_upload(&self, name: &RepoName, id: &str) -> ApiResult<()> {
        self.delete_tree(&layout::upload_dir(name, id))
            .await
            .map(drop)
    }

    /// Aborts the session's multipart upload and removes the session.
    pub async fn cancel_upload(&self, name: &RepoName, id: &str) -> ApiResult<()> {
        match self.resume_upload(name, id).await {
            Ok(mut w) => w.cancel().await.map_err(ApiError::storage)?,
            Err(e) if e.failure == Failure::UploadUnknown => {}
            Err(e) => return Err(e),
        }
        self.end_upload(name, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_uuids_are_upload_ids() {
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        assert!(valid_upload_id(&id));
        for bad in ["", "../x", "abc", &id.to_uppercase(), &id.replace('-', "")] {
            assert!(!valid_upload_id(bad), "{bad}");
        }
    }
}
