//! Docker Distribution's storage layout, path for path, so this registry and
//! the Go registry serve the same bucket:
//!
//! ```text
//! /docker/registry/v2/blobs/<alg>/<first 2 hex>/<hex>/data
//! /docker/registry/v2/repositories/<name>/
//!     _layers/<alg>/<hex>/link                         blob linked into the repository
//!     _manifests/revisions/<alg>/<hex>/link            manifest in the repository
//!     _manifests/tags/<tag>/current/link               what the tag points at
//!     _manifests/tags/<tag>/index/<alg>/<hex>/link     every manifest it pointed at
//!     _uploads/<id>/data                               the upload's content (multipart)
//!     _uploads/<id>/startedat                          RFC 3339 start time
//!     _uploads/<id>/hashstates/<alg>/<offset>          digest state at an offset
//!     _referrers/<subject hex, 32>/<referrer hex, 32>  ours: a link to a referrer
//! ```
//!
//! A link file holds the digest string (`sha256:...`) and nothing else. The
//! Go registry 2.8 has no referrers index; it skips every `_`-directory when
//! it lists repositories, so `_referrers` costs it nothing. Its keys use the
//! first 32 hex digits (128 bits) of each digest, so that they stay short
//! enough for filesystem-backed stores (the embedded s3s-fs server fails
//! keys past about 165 bytes); the link holds the full referrer digest and
//! every read checks the referrer's `subject` against the full subject
//! digest, so a prefix shared by two digests cannot mislead it.

use crate::digest::Digest;
use crate::names::{RepoName, Tag};

/// Root of everything the registry stores.
pub const ROOT: &str = "/docker/registry/v2";

/// Where the registry's blobs are.
pub fn blobs_root() -> String {
    format!("{ROOT}/blobs")
}

/// Where repositories are.
pub fn repositories_root() -> String {
    format!("{ROOT}/repositories")
}

/// The blob's directory.
pub fn blob_dir(d: &Digest) -> String {
    format!(
        "{ROOT}/blobs/{}/{}/{}",
        d.algorithm().name(),
        &d.hex()[..2],
        d.hex()
    )
}

/// The blob's content.
pub fn blob_data(d: &Digest) -> String {
    format!("{}/data", blob_dir(d))
}

/// The repository's directory.
pub fn repository(name: &RepoName) -> String {
    format!("{ROOT}/repositories/{name}")
}

/// The directory whose presence makes a directory a repository (the Go
/// catalog looks for it).
pub fn manifests_dir(name: &RepoName) -> String {
    format!("{}/_manifests", repository(name))
}

/// The blob's link directory in a repository.
pub fn layer_dir(name: &RepoName, d: &Digest) -> String {
    format!(
        "{}/_layers/{}/{}",
        repository(name),
        d.algorithm().name(),
        d.hex()
    )
}

/// The blob's link in a repository.
pub fn layer_link(name: &RepoName, d: &Digest) -> String {
    format!("{}/link", layer_dir(name, d))
}

/// The manifest's revision directory.
pub fn revision_dir(name: &RepoName, d: &Digest) -> String {
    format!(
        "{}/revisions/{}/{}",
        manifests_dir(name),
        d.algorithm().name(),
        d.hex()
    )
}

/// The manifest's revision link.
pub fn revision_link(name: &RepoName, d: &Digest) -> String {
    format!("{}/link", revision_dir(name, d))
}

/// The repository's tags.
pub fn tags_dir(name: &RepoName) -> String {
    format!("{}/tags", manifests_dir(name))
}

/// One tag's directory.
pub fn tag_dir(name: &RepoName, tag: &Tag) -> String {
    format!("{}/{tag}", tags_dir(name))
}

/// What the tag points at now.
pub fn tag_current_link(name: &RepoName, tag: &Tag) -> String {
    format!("{}/current/link", tag_dir(name, tag))
}

/// The tag's index entry for a manifest it pointed at.
pub fn tag_index_link(name: &RepoName, tag: &Tag, d: &Digest) -> String {
    format!(
        "{}/index/{}/{}/link",
        tag_dir(name, tag),
        d.algorithm().name(),
        d.hex()
    )
}

/// An upload session's directory.
pub fn upload_dir(name: &RepoName, id: &str) -> String {
    format!("{}/_uploads/{id}", repository(name))
}

/// An upload's content.
pub fn upload_data(name: &RepoName, id: &str) -> String {
    format!("{}/data", upload_dir(name, id))
}

/// An upload's start time.
pub fn upload_started_at(name: &RepoName, id: &str) -> String {
    format!("{}/startedat", upload_dir(name, id))
}

/// An upload's SHA-256 state after `offset` bytes.
pub fn upload_hash_state(name: &RepoName, id: &str, offset: u64) -> String {
    format!("{}/hashstates/sha256/{offset}", upload_dir(name, id))
}

/// Hex digits of a digest in a referrers key.
const REFERRER_KEY_HEX: usize = 32;

/// The referrers of `subject` in a repository.
pub fn referrers_dir(name: &RepoName, subject: &Digest) -> String {
    format!(
        "{}/_referrers/{}",
        repository(name),
        &subject.hex()[..REFERRER_KEY_HEX]
    )
}

/// The link to one referrer of `subject` (it holds the referrer's digest).
pub fn referrer_link(name: &RepoName, subject: &Digest, referrer: &Digest) -> String {
    format!(
        "{}/{}",
        referrers_dir(name, subject),
        &referrer.hex()[..REFERRER_KEY_HEX]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_distributions() {
        let name = RepoName::parse("library/app").unwrap();
        let tag = Tag::parse("v1").unwrap();
        let d = Digest::parse(&format!("sha256:ab{}", "0".repeat(62))).unwrap();
        let hex = d.hex().to_owned();
        let repo = "/docker/registry/v2/repositories/library/app";
        assert_eq!(
            blob_data(&d),
            format!("/docker/registry/v2/blobs/sha256/ab/{hex}/data")
        );
        assert_eq!(
            layer_link(&name, &d),
            format!("{repo}/_layers/sha256/{hex}/link")
        );
        assert_eq!(
            revision_link(&name, &d),
            format!("{repo}/_manifests/revisions/sha256/{hex}/link")
        );
        assert_eq!(
            tag_current_link(&name, &tag),
            format!("{repo}/_manifests/tags/v1/current/link")
        );
        assert_eq!(
            tag_index_link(&name, &tag, &d),
            format!("{repo}/_manifests/tags/v1/index/sha256/{hex}/link")
        );
        assert_eq!(upload_data(&name, "u"), format!("{repo}/_uploads/u/data"));
        assert_eq!(
            upload_started_at(&name, "u"),
            format!("{repo}/_uploads/u/startedat")
        );
        assert_eq!(
            upload_hash_state(&name, "u", 42),
            format!("{repo}/_uploads/u/hashstates/sha256/42")
        );
        assert_eq!(
            referrer_link(&name, &d, &d),
            format!("{repo}/_referrers/{}/{}", &hex[..32], &hex[..32])
        );
    }
}
