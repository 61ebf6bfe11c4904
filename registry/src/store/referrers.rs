//! The referrers index (ours; the Go registry 2.8 has none): one link per
//! manifest that names a subject, under the subject's digest (see
//! [`crate::layout`] for why its keys hold digest prefixes).

use super::Store;
use crate::digest::Digest;
use crate::error::ApiResult;
use crate::layout;
use crate::names::RepoName;

impl Store {
    /// Records `referrer` as referring to `subject`.
    pub async fn add_referrer(
        &self,
        name: &RepoName,
        subject: &Digest,
        referrer: &Digest,
    ) -> ApiResult<()> {
        self.write_link(&layout::referrer_link(name, subject, referrer), referrer)
            .await
    }

    /// Forgets `referrer` under `subject`.
    pub async fn remove_referrer(
        &self,
        name: &RepoName,
        subject: &Digest,
        referrer: &Digest,
    ) -> ApiResult<()> {
        self.delete_tree(&layout::referrer_link(name, subject, referrer))
            .await
            .map(drop)
    }

    /// Every referrer recorded under `subject` (by its key prefix: the
    /// caller checks each one's subject).
    pub async fn referrers(&self, name: &RepoName, subject: &Digest) -> ApiResult<Vec<Digest>> {
        let dir = layout::referrers_dir(name, subject);
        let mut out = Vec::new();
        for key in self.children(&dir).await? {
            if let Some(d) = self.read_link(&format!("{dir}/{key}")).await? {
                out.push(d);
            }
        }
        Ok(out)
    }
}
