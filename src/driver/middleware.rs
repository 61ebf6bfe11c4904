//! Distribution v3's `redirect` and `rewrite` storage middlewares, with its
//! option checks and messages. `redirect` answers every redirect with
//! `baseurl` joined to the storage path; `rewrite` changes the scheme, the
//! host or the path prefix of the URL the middlewares listed before it (or
//! the driver) produced. Pure string work, no I/O.

use crate::config::Value;
use crate::error::{Error, Result};

/// A `redirect` entry: `baseurl` split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectBase {
    scheme: String,
    host: String,
    base_path: String,
}

/// A `rewrite` entry: what it replaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrite {
    scheme: Option<String>,
    host: Option<String>,
    trim_path_prefix: Option<String>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidConfig(message.into())
}

/// An option that must be text when given.
fn text_option(options: &[(String, Value)], key: &str) -> Result<Option<String>> {
    match options.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
        None => Ok(None),
        Some((_, Value::Text(s))) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{key} must be a string"))),
    }
}

/// The parts of an absolute URL: scheme, authority, path, and the rest
/// (`?query#fragment`, kept as written).
struct UrlParts<'a> {
    scheme: &'a str,
    authority: &'a str,
    path: &'a str,
    rest: &'a str,
}

fn scheme_ok(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Splits `scheme://authority/path?query`; `None` when there is no
/// `scheme://`.
fn split(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, after) = url.split_once("://")?;
    if !scheme_ok(scheme) {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, tail) = after.split_at(end);
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    let (path, rest) = tail.split_at(path_end);
    Some(UrlParts {
        scheme,
        authority,
        path,
        rest,
    })
}

/// Go's `path.Clean`: one slash between elements, no `.`, `..` resolved,
/// no trailing slash; rooted if `p` is.
fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Percent-encodes a path as Go's `url.URL.String` does: unreserved
/// characters and `$&+,/:;=@` stay, everything else is escaped.
fn escape_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'$'
                    | b'&'
                    | b'+'
                    | b','
                    | b'/'
                    | b':'
                    | b';'
                    | b'='
                    | b'@'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl RedirectBase {
    /// Checks a `redirect` entry's options as Distribution v3 does.
    pub fn from_options(options: &[(String, Value)]) -> Result<Self> {
        let base = match options
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("baseurl"))
        {
            None => return Err(invalid("no baseurl provided")),
            Some((_, Value::Text(s))) => s.clone(),
            Some(_) => return Err(invalid("baseurl must be a string")),
        };
        if base.chars().any(|c| c.is_ascii_control() || c == ' ') {
            return Err(invalid(format!("unable to parse redirect baseurl: {base}")));
        }
        let Some(u) = split(&base) else {
            return Err(invalid("no scheme specified for redirect baseurl"));
        };
        if u.authority.is_empty() {
            return Err(invalid("no host specified for redirect baseurl"));
        }
        Ok(Self {
            scheme: u.scheme.to_ascii_lowercase(),
            host: u.authority.to_owned(),
            base_path: u.path.to_owned(),
        })
    }

    /// `baseurl` joined with the storage path (Go's `path.Join`).
    pub fn url(&self, path: &str) -> String {
        let path = if self.base_path.is_empty() {
            path.to_owned()
        } else {
            clean(&format!("{}/{path}", self.base_path))
        };
        let sep = if path.starts_with('/') || path.is_empty() {
            ""
        } else {
            "/"
        };
        format!("{}://{}{sep}{}", self.scheme, self.host, escape_path(&path))
    }
}

impl Rewrite {
    /// Checks a `rewrite` entry's options as Distribution v3 does (each is
    /// optional and must be text).
    pub fn from_options(options: &[(String, Value)]) -> Result<Self> {
        Ok(Self {
            scheme: text_option(options, "scheme")?.filter(|s| !s.is_empty()),
            host: text_option(options, "host")?.filter(|s| !s.is_empty()),
            trim_path_prefix: text_option(options, "trimpathprefix")?.filter(|s| !s.is_empty()),
        })
    }

    /// The URL with the scheme and host replaced and the prefix trimmed from
    /// its path; the query (a signature, an expiry) is kept as it is.
    pub fn apply(&self, url: &str) -> Result<String> {
        let u = split(url).ok_or_else(|| {
            Error::MalformedResponse(format!("rewrite: not an absolute URL: {url}"))
        })?;
        let scheme = self.scheme.as_deref().unwrap_or(u.scheme);
        let host = self.host.as_deref().unwrap_or(u.authority);
        let path = match &self.trim_path_prefix {
            Some(p) => u.path.strip_prefix(p.as_str()).unwrap_or(u.path),
            None => u.path,
        };
        Ok(format!("{scheme}://{host}{path}{}", u.rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> Vec<(String, Value)> {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), Value::Text((*v).to_owned())))
            .collect()
    }

    fn msg(e: Error) -> String {
        match e {
            Error::InvalidConfig(m) => m,
            other => panic!("{other:?}"),
        }
    }

    // The reference's own test cases (redirect/middleware_test.go).
    #[test]
    fn redirect_joins_the_base_url_as_the_reference_does() {
        assert_eq!(
            msg(RedirectBase::from_options(&[]).unwrap_err()),
            "no baseurl provided"
        );
        assert_eq!(
            msg(RedirectBase::from_options(&opts(&[("baseurl", "example.com")])).unwrap_err()),
            "no scheme specified for redirect baseurl"
        );
        assert_eq!(
            msg(RedirectBase::from_options(&opts(&[("baseurl", "https://")])).unwrap_err()),
            "no host specified for redirect baseurl"
        );
        assert_eq!(
            msg(RedirectBase::from_options(&[("baseurl".into(), Value::Int(1))]).unwrap_err()),
            "baseurl must be a string"
        );
        let r = |base: &str| RedirectBase::from_options(&opts(&[("baseurl", base)])).unwrap();
        assert_eq!(
            r("https://example.com:5443").url("/rick/data"),
            "https://example.com:5443/rick/data"
        );
        assert_eq!(
            r("http://example.com").url("morty/data"),
            "http://example.com/morty/data"
        );
        for base in ["https://example.com/path", "https://example.com/path/"] {
            assert_eq!(
                r(base).url("morty/data"),
                "https://example.com/path/morty/data",
                "{base}"
            );
            assert_eq!(
                r(base).url("/morty/data"),
                "https://example.com/path/morty/data",
                "{base}"
            );
        }
        assert_eq!(r("https://h/a").url("/b c"), "https://h/a/b%20c");
    }

    // The reference's own test cases (rewrite/middleware_test.go).
    #[test]
    fn rewrite_replaces_scheme_host_and_prefix_as_the_reference_does() {
        let inner = "http://some.host/some/path/file";
        assert_eq!(
            Rewrite::from_options(&[]).unwrap().apply(inner).unwrap(),
            inner
        );
        assert_eq!(
            msg(Rewrite::from_options(&[("scheme".into(), Value::Int(1))]).unwrap_err()),
            "scheme must be a string"
        );
        let hosts =
            Rewrite::from_options(&opts(&[("scheme", "https"), ("host", "example.com")])).unwrap();
        assert_eq!(
            hosts.apply(inner).unwrap(),
            "https://example.com/some/path/file"
        );
        let trim = Rewrite::from_options(&opts(&[("trimpathprefix", "/some/path")])).unwrap();
        assert_eq!(trim.apply(inner).unwrap(), "http://some.host/file");
        let signed = "https://b.s3.amazonaws.com/docker/x?X-Amz-Signature=ab%2F&X-Amz-Expires=1200";
        assert_eq!(
            hosts.apply(signed).unwrap(),
            "https://example.com/docker/x?X-Amz-Signature=ab%2F&X-Amz-Expires=1200",
            "the query is kept byte for byte"
        );
    }

    #[test]
    fn paths_clean_like_go() {
        for (p, want) in [
            ("/a//b/./c/..", "/a/b"),
            ("/", "/"),
            ("a/../..", ".."),
            ("/a/", "/a"),
            ("", "."),
        ] {
            assert_eq!(clean(p), want, "{p}");
        }
    }
}
