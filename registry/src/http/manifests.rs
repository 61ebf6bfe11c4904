//! Manifests: pull by tag or digest, push (checked against what the
//! repository holds, stored byte for byte, tags and referrers recorded),
//! and deletes of manifests and tags.

use futures::future::try_join_all;
use http::{Response, StatusCode, header};

use super::body::{self, Body, collect};
use super::{BodySlot, Call, Registry, reply};
use crate::digest::{Algorithm, Digest};
use crate::error::{ApiError, ApiResult, Failure};
use crate::manifest::{self, MAX_MANIFEST_BYTES};
use crate::names::{Reference, ReferenceError, RepoName, Tag};

fn manifest_unknown(reference: &str) -> ApiError {
    ApiError::new(
        Failure::ManifestUnknown,
        format!("manifest {reference} unknown to the repository"),
    )
}

/// A reference from the URL: a digest or a tag, else `400`.
fn reference(r: &str) -> ApiResult<Reference> {
    Reference::parse(r).map_err(|e| match e {
        ReferenceError::Digest(d) => d.into(),
        ReferenceError::Invalid(t) => {
            ApiError::new(Failure::TagInvalid, format!("invalid tag {t:?}"))
        }
    })
}

impl Registry {
    /// The digest a reference names in the repository; `None` for a tag
    /// that does not exist.
    async fn resolve(&self, name: &RepoName, r: &Reference) -> ApiResult<Option<Digest>> {
        match r {
            Reference::Digest(d) => Ok(Some(d.clone())),
            Reference::Tag(t) => self.store().resolve_tag(name, t).await,
        }
    }

    pub(super) async fn get_manifest(
        &self,
        name: &RepoName,
        r: &str,
        head: bool,
    ) -> ApiResult<Response<Body>> {
        // A reference that cannot be a tag names no manifest: 404, as the
        // distribution-spec conformance suite expects of a pull.
        let parsed = reference(r).map_err(|e| match e.failure {
            Failure::TagInvalid => manifest_unknown(r),
            _ => e,
        })?;
        let d = self
            .resolve(name, &parsed)
            .await?
            .ok_or_else(|| manifest_unknown(r))?;
        let bytes = self
            .store()
            .manifest(name, &d)
            .await?
            .ok_or_else(|| manifest_unknown(r))?;
        let b = reply(StatusCode::OK)
            .header(header::CONTENT_TYPE, manifest::served_media_type(&bytes))
            .header(header::CONTENT_LENGTH, bytes.len())
            .header("Docker-Content-Digest", d.to_string())
            .header(header::ETAG, format!("\"{d}\""));
        let content = if head {
            body::empty()
        } else {
            body::full(bytes)
        };
        Ok(b.body(content).expect("valid reply"))
    }

    pub(super) async fn put_manifest(
        &self,
        name: &RepoName,
        r: &str,
        call: Call,
        body: &BodySlot,
    ) -> ApiResult<Response<Body>> {
        let parsed = reference(r)?;
        let max = self.options.limits.max_tags_per_put;
        let asked = call.query.iter().filter(|(k, _)| k == "tag").count();
        if asked > max {
            return Err(ApiError::new(
                Failure::TagInvalid,
                format!("{asked} tags in one push; at most {max} are taken"),
            ));
        }
        let extra_tags = call
            .query
            .iter()
            .filter(|(k, _)| k == "tag")
            .map(|(_, v)| {
                Tag::parse(v)
                    .ok_or_else(|| ApiError::new(Failure::TagInvalid, format!("invalid tag {v:?}")))
            })
            .collect::<ApiResult<Vec<Tag>>>()?;
        let content_type = call.header(header::CONTENT_TYPE).map(str::to_owned);
        let bytes = collect(body, MAX_MANIFEST_BYTES, Failure::ManifestTooLarge).await?;
        let m = manifest::parse(&bytes, content_type.as_deref())?;
        let d = match &parsed {
            Reference::Digest(want) => {
                let got = Digest::of(want.algorithm(), &bytes);
                if &got != want {
                    return Err(ApiError::new(
                        Failure::DigestInvalid,
                        format!("the manifest's digest is {got}, not {want}"),
                    ));
                }
                got
            }
            Reference::Tag(_) => Digest::of(Algorithm::Sha256, &bytes),
        };
        self.check_references(name, &m).await?;
        self.store().put_manifest(name, &d, &bytes).await?;
        let mut tags = extra_tags;
        if let Reference::Tag(t) = parsed {
            tags.insert(0, t);
        }
        for t in &tags {
            self.store().tag(name, t, &d).await?;
        }
        if let Some(subject) = &m.subject {
            self.store().add_referrer(name, subject, &d).await?;
        }
        let mut b = reply(StatusCode::CREATED)
            .header(header::LOCATION, format!("/v2/{name}/manifests/{d}"))
            .header("Docker-Content-Digest", d.to_string())
            .header(header::CONTENT_LENGTH, 0);
        if let Some(subject) = &m.subject {
            b = b.header("OCI-Subject", subject.to_string());
        }
        for t in &tags {
            b = b.header("OCI-Tag", t.as_str());
        }
        Ok(b.body(body::empty()).expect("valid reply"))
    }

    /// Every blob and child manifest the manifest names must be in the
    /// repository already (the subject need not be).
    async fn check_references(&self, name: &RepoName, m: &manifest::Manifest) -> ApiResult<()> {
        let blobs = try_join_all(m.blobs.iter().map(|d| async move {
            Ok::<_, ApiError>((d, self.store().linked_blob_size(name, d).await?.is_some()))
        }));
        let children = try_join_all(m.children.iter().map(|d| async move {
            Ok::<_, ApiError>((d, self.store().has_manifest(name, d).await?))
        }));
        let (blobs, children) = futures::try_join!(blobs, children)?;
        if let Some((d, _)) = blobs.iter().chain(&children).find(|(_, present)| !present) {
            return Err(ApiError::new(
                Failure::ManifestBlobUnknown,
                format!("the manifest references {d}, which the repository does not have"),
            ));
        }
        Ok(())
    }

    pub(super) async fn delete_manifest(
        &self,
        name: &RepoName,
        r: &str,
    ) -> ApiResult<Response<Body>> {
        self.deletes_enabled()?;
        match reference(r)? {
            Reference::Tag(t) => {
                if !self.store().delete_tag(name, &t).await? {
                    return Err(manifest_unknown(r));
                }
            }
            Reference::Digest(d) => {
                let subject = match self.store().manifest(name, &d).await? {
                    Some(bytes) => manifest::subject_of(&bytes),
                    None => return Err(manifest_unknown(r)),
                };
                if !self.store().delete_manifest(name, &d).await? {
                    return Err(manifest_unknown(r));
                }
                if let Some(subject) = subject {
                    self.store().remove_referrer(name, &subject, &d).await?;
                }
            }
        }
        Ok(reply(StatusCode::ACCEPTED)
            .header(header::CONTENT_LENGTH, 0)
            .body(body::empty())
            .expect("valid reply"))
    }
}
