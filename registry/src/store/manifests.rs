//! Manifests and tags: manifests are blobs linked as revisions; a tag is a
//! link to a revision, with an index of every revision it pointed at.

use super::Store;
use crate::digest::Digest;
use crate::error::ApiResult;
use crate::layout;
use crate::names::{RepoName, Tag};

impl Store {
    /// Stores a manifest's exact bytes as the blob `d` and links it as a
    /// revision of the repository.
    pub async fn put_manifest(&self, name: &RepoName, d: &Digest, body: &[u8]) -> ApiResult<()> {
        self.put_blob(d, body).await?;
        self.write_link(&layout::revision_link(name, d), d).await
    }

    /// Points `tag` at the revision `d`.
    pub async fn tag(&self, name: &RepoName, tag: &Tag, d: &Digest) -> ApiResult<()> {
        self.write_link(&layout::tag_index_link(name, tag, d), d)
            .await?;
        self.write_link(&layout::tag_current_link(name, tag), d)
            .await
    }

    /// True when `d` is a revision of the repository.
    pub async fn has_manifest(&self, name: &RepoName, d: &Digest) -> ApiResult<bool> {
        Ok(self
            .read_link(&layout::revision_link(name, d))
            .await?
            .is_some())
    }

    /// The manifest's bytes, when it is a revision of the repository and
    /// its blob exists.
    pub async fn manifest(&self, name: &RepoName, d: &Digest) -> ApiResult<Option<Vec<u8>>> {
        if !self.has_manifest(name, d).await? {
            return Ok(None);
        }
        if self.blob_size(d).await?.is_none() {
            return Ok(None);
        }
        self.blob_content(d).await.map(Some)
    }

    /// What the tag points at.
    pub async fn resolve_tag(&self, name: &RepoName, tag: &Tag) -> ApiResult<Option<Digest>> {
        self.read_link(&layout::tag_current_link(name, tag)).await
    }

    /// The repository's tags, sorted bytewise; `None` when it has none (an
    /// unknown repository to Distribution).
    pub async fn tags(&self, name: &RepoName) -> ApiResult<Option<Vec<String>>> {
        // No tag directory is an unknown repository, as in Distribution
        // (whose tag store answers ErrRepositoryUnknown when listing it
        // finds no path), even if uploads or blobs have started it.
        let tags = self.children(&layout::tags_dir(name)).await?;
        Ok((!tags.is_empty()).then_some(tags))
    }

    /// Removes a tag; false when it did not exist.
    pub async fn delete_tag(&self, name: &RepoName, tag: &Tag) -> ApiResult<bool> {
        if self.resolve_tag(name, tag).await?.is_none() {
            return Ok(false);
        }
        self.delete_tree(&layout::tag_dir(name, tag)).await
    }

    /// Removes a revision and every tag pointing at it (as the Go registry
    /// does); false when it was not a revision. The blob stays.
    pub async fn delete_manifest(&self, name: &RepoName, d: &Digest) -> ApiResult<bool> {
        if !self.has_manifest(name, d).await? {
            return Ok(false);
        }
        for t in self.tags(name).await?.unwrap_or_default() {
            let Some(tag) = Tag::parse(&t) else { continue };
            if self.resolve_tag(name, &tag).await?.as_ref() == Some(d) {
                self.delete_tree(&layout::tag_dir(name, &tag)).await?;
            }
        }
        self.delete_tree(&layout::revision_dir(name, d)).await
    }
}
