//! Which endpoint a request path names. Repository names contain `/`, so a
//! path is matched from its end: the last segments say the endpoint, the
//! rest is the name (checked later by the grammar).

/// An endpoint of the OCI Distribution API (and Docker's catalog).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags { name: String },
    /// `/v2/<name>/manifests/<reference>`
    Manifest { name: String, reference: String },
    /// `/v2/<name>/blobs/<digest>`
    Blob { name: String, digest: String },
    /// `/v2/<name>/blobs/uploads/`
    Uploads { name: String },
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload { name: String, id: String },
    /// `/v2/<name>/referrers/<digest>`
    Referrers { name: String, digest: String },
}

/// The endpoint `path` names, if any.
pub fn route(path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Route::Base);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let n = segments.len();
    let name = |k: usize| (n > k).then(|| segments[..n - k].join("/"));
    let tail = |k: usize| &segments[n.saturating_sub(k)..];
    match tail(3) {
        ["blobs", "uploads", id] if n > 3 => {
            let name = name(3)?;
            return Some(if id.is_empty() {
                Route::Uploads { name }
            } else {
                Route::Upload {
                    name,
                    id: (*id).to_owned(),
                }
            });
        }
        _ => {}
    }
    match tail(2) {
        ["tags", "list"] => Some(Route::Tags { name: name(2)? }),
        ["blobs", "uploads"] => Some(Route::Uploads { name: name(2)? }),
        ["manifests", r] if !r.is_empty() => Some(Route::Manifest {
            name: name(2)?,
            reference: (*r).to_owned(),
        }),
        ["blobs", d] if !d.is_empty() => Some(Route::Blob {
            name: name(2)?,
            digest: (*d).to_owned(),
        }),
        ["referrers", d] if !d.is_empty() => Some(Route::Referrers {
            name: name(2)?,
            digest: (*d).to_owned(),
        }),
        _ => None,
    }
}

/// The query's parameters, decoded (`+` is a space, as in Go's
/// `url.ParseQuery`), in order.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `key`.
pub fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> String {
        x.to_owned()
    }

    #[test]
    fn paths_are_matched_from_their_end() {
        assert_eq!(route("/v2/"), Some(Route::Base));
        assert_eq!(route("/v2"), Some(Route::Base));
        assert_eq!(route("/v2/_catalog"), Some(Route::Catalog));
        assert_eq!(
            route("/v2/a/b/tags/list"),
            Some(Route::Tags { name: s("a/b") })
        );
        assert_eq!(
            route("/v2/a/manifests/latest"),
            Some(Route::Manifest {
                name: s("a"),
                reference: s("latest")
            })
        );
        assert_eq!(
            route("/v2/blobs/blobs/sha256:x"),
            Some(Route::Blob {
                name: s("blobs"),
                digest: s("sha256:x")
            })
        );
        assert_eq!(
            route("/v2/a/blobs/uploads/"),
            Some(Route::Uploads { name: s("a") })
        );
        assert_eq!(
            route("/v2/a/blobs/uploads"),
            Some(Route::Uploads { name: s("a") })
        );
        assert_eq!(
            route("/v2/x/y/blobs/uploads/123"),
            Some(Route::Upload {
                name: s("x/y"),
                id: s("123")
            })
        );
        assert_eq!(
            route("/v2/a/referrers/sha256:x"),
            Some(Route::Referrers {
                name: s("a"),
                digest: s("sha256:x")
            })
        );
        for none in [
            "/",
            "/v3/",
            "/v2/a",
            "/v2/a/manifests/",
            "/v2/tags/list",
            "/v2x/a/tags/list",
        ] {
            assert_eq!(route(none), None, "{none}");
        }
    }

    #[test]
    fn queries_decode_like_go() {
        let q = query_pairs(Some("artifactType=application%2Fvnd.x%2Bjson&n=2&a=b+c"));
        assert_eq!(first(&q, "artifactType"), Some("application/vnd.x+json"));
        assert_eq!(first(&q, "n"), Some("2"));
        assert_eq!(first(&q, "a"), Some("b c"));
        assert_eq!(first(&q, "missing"), None);
    }
}
