//! Content discovery: tags, the catalog, and referrers.

use http::{Response, StatusCode, header};
use serde_json::{Value, json};

use super::body::{self, Body};
use super::{Call, Registry, reply};
use crate::digest::Digest;
use crate::error::{ApiError, ApiResult, Failure};
use crate::manifest::{self, OCI_INDEX};
use crate::names::{RepoName, Tag};

/// Catalog entries per page when the client does not say.
const CATALOG_DEFAULT: usize = 100;
/// Most catalog entries per page.
const CATALOG_MAX: usize = 1000;

/// `n` from the query: absent is `None`; not a number is `400`.
fn page_size(call: &Call) -> ApiResult<Option<usize>> {
    call.param("n")
        .map(|n| {
            n.parse::<usize>().map_err(|_| {
                ApiError::new(
                    Failure::BadRequest,
                    format!("n must be a number, not {n:?}"),
                )
            })
        })
        .transpose()
}

fn json_reply(value: &Value) -> http::response::Builder {
    let text = value.to_string();
    reply(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, text.len())
}

/// `Link: <url>; rel="next"` for the page after `last`.
fn next_link(path: &str, n: usize, last: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("last", last)
        .append_pair("n", &n.to_string())
        .finish();
    format!("<{path}?{query}>; rel=\"next\"")
}

impl Registry {
    pub(super) async fn tags(&self, name: &RepoName, call: &Call) -> ApiResult<Response<Body>> {
        let all = self.store().tags(name).await?.ok_or_else(|| {
            ApiError::new(Failure::NameUnknown, format!("repository {name} unknown"))
        })?;
        let n = page_size(call)?;
        let last = call.param("last");
        let mut tags: Vec<String> = all
            .into_iter()
            .filter(|t| last.is_none_or(|l| t.as_str() > l))
            .collect();
        let mut link = None;
        if let Some(n) = n {
            if tags.len() > n && n > 0 {
                link = Some(next_link(&format!("/v2/{name}/tags/list"), n, &tags[n - 1]));
            }
            tags.truncate(n);
        }
        let doc = json!({ "name": name.as_str(), "tags": tags });
        let mut b = json_reply(&doc);
        if let Some(l) = link {
            b = b.header(header::LINK, l);
        }
        Ok(b.body(body::full(doc.to_string())).expect("valid reply"))
    }

    pub(super) async fn catalog(&self, call: &Call) -> ApiResult<Response<Body>> {
        let n = page_size(call)?.unwrap_or(CATALOG_DEFAULT).min(CATALOG_MAX);
        let last = call.param("last");
        let (repos, more) = if n == 0 {
            (Vec::new(), false)
        } else {
            self.store().repositories(n, last).await?
        };
        let doc = json!({ "repositories": repos });
        let mut b = json_reply(&doc);
        if more && let Some(l) = repos.last() {
            b = b.header(header::LINK, next_link("/v2/_catalog", n, l));
        }
        Ok(b.body(body::full(doc.to_string())).expect("valid reply"))
    }

    pub(super) async fn referrers(
        &self,
        name: &RepoName,
        digest: &str,
        call: &Call,
    ) -> ApiResult<Response<Body>> {
        let subject = Digest::parse(digest)?;
        let mut found = self.store().referrers(name, &subject).await?;
        for d in self.tag_schema_referrers(name, &subject).await? {
            if !found.contains(&d) {
                found.push(d);
            }
        }
        let mut descriptors = Vec::new();
        for d in found {
            let Some(bytes) = self.store().manifest(name, &d).await? else {
                continue;
            };
            if manifest::subject_of(&bytes).as_ref() == Some(&subject) {
                descriptors.push(manifest::referrer_descriptor(&bytes, &d));
            }
        }
        let filter = call.param("artifactType");
        if let Some(t) = filter {
            descriptors.retain(|d| d["artifactType"].as_str() == Some(t));
        }
        let doc = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": descriptors,
        });
        let text = doc.to_string();
        let mut b = reply(StatusCode::OK)
            .header(header::CONTENT_TYPE, OCI_INDEX)
            .header(header::CONTENT_LENGTH, text.len());
        if filter.is_some() {
            b = b.header("OCI-Filters-Applied", "artifactType");
        }
        Ok(b.body(body::full(text)).expect("valid reply"))
    }

    /// Manifests listed in the referrers tag (`<alg>-<hex>`) that clients
    /// maintain where a registry has no referrers API (the Go registry's
    /// pushes): the specification has them included.
    async fn tag_schema_referrers(
        &self,
        name: &RepoName,
        subject: &Digest,
    ) -> ApiResult<Vec<Digest>> {
        let tag = format!("{}-{}", subject.algorithm().name(), subject.hex());
        let Some(tag) = Tag::parse(&tag) else {
            return Ok(Vec::new());
        };
        let Some(index) = self.store().resolve_tag(name, &tag).await? else {
            return Ok(Vec::new());
        };
        let Some(bytes) = self.store().manifest(name, &index).await? else {
            return Ok(Vec::new());
        };
        let doc: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(doc["manifests"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(|m| Digest::parse(m["digest"].as_str()?).ok())
            .collect())
    }
}
