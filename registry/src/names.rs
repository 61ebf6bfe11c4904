//! Repository names, tags and manifest references, checked by the OCI
//! Distribution grammar before any of them reaches a storage path.

use std::fmt;

use crate::digest::{Digest, DigestError};

/// Longest repository name: clients limit `host/name` to 255 characters.
pub const MAX_NAME_LEN: usize = 255;
/// Longest tag.
pub const MAX_TAG_LEN: usize = 128;

/// A repository name: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` components joined
/// by `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);

/// One component: lowercase alphanumeric runs joined by `.`, `_`, `__` or
/// one or more `-`.
fn component_ok(c: &str) -> bool {
    let bytes = c.as_bytes();
    let mut i = 0;
    let mut expect_run = true;
    while i < bytes.len() {
        let start = i;
        if expect_run {
            while i < bytes.len() && (bytes[i].is_ascii_lowercase() || bytes[i].is_ascii_digit()) {
                i += 1;
            }
            if i == start {
                return false;
            }
        } else {
            while i < bytes.len() && matches!(bytes[i], b'.' | b'_' | b'-') {
                i += 1;
            }
            let sep = &c[start..i];
            let dashes = sep.bytes().all(|b| b == b'-');
            if !(sep == "." || sep == "_" || sep == "__" || dashes) {
                return false;
            }
        }
        expect_run = !expect_run;
    }
    // Ends after a run, never after a separator.
    !expect_run
}

impl RepoName {
    /// Checks `s` against the grammar and the length limit.
    pub fn parse(s: &str) -> Option<Self> {
        (!s.is_empty() && s.len() <= MAX_NAME_LEN && s.split('/').all(component_ok))
            .then(|| Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// Checks `s` against the grammar.
    pub fn parse(s: &str) -> Option<Self> {
        let mut chars = s.chars();
        let first = chars.next()?;
        let ok = s.len() <= MAX_TAG_LEN
            && (first.is_ascii_alphanumeric() || first == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        ok.then(|| Self(s.to_owned()))
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a manifest URL names: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `/manifests/<tag>`.
    Tag(Tag),
    /// `/manifests/<digest>`.
    Digest(Digest),
}

/// Why a reference was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceError {
    /// Neither a tag nor a digest by the grammar.
    Invalid(String),
    /// A digest that does not parse or whose algorithm is not computed here.
    Digest(DigestError),
}

impl Reference {
    /// A digest if `s` has a `:` (tags cannot), else a tag.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        if s.contains(':') {
            Digest::parse(s)
                .map(Reference::Digest)
                .map_err(ReferenceError::Digest)
        } else {
            Tag::parse(s)
                .map(Reference::Tag)
                .ok_or_else(|| ReferenceError::Invalid(s.to_owned()))
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => t.fmt(f),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_grammar() {
        for ok in [
            "a",
            "library/busybox",
            "a.b_c__d---e/f0",
            "x/y/z",
            &"a".repeat(MAX_NAME_LEN),
        ] {
            assert!(RepoName::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "A",
            "a/",
            "/a",
            "a//b",
            "a.",
            "-a",
            "a___b",
            "a..b",
            "a._b",
            "a/B",
            "a b",
            "../x",
            &"a".repeat(MAX_NAME_LEN + 1),
        ] {
            assert!(RepoName::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn tags_follow_the_grammar() {
        for ok in ["latest", "_x", "1.0-rc_1", "A", &"a".repeat(128)] {
            assert!(Tag::parse(ok).is_some(), "{ok}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", &"a".repeat(129), "a b"] {
            assert!(Tag::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_reference_with_a_colon_is_a_digest() {
        assert!(matches!(Reference::parse("latest"), Ok(Reference::Tag(_))));
        assert!(matches!(
            Reference::parse("sha256:baddigeststring"),
            Err(ReferenceError::Digest(DigestError::Invalid(_)))
        ));
        assert!(matches!(
            Reference::parse("bad tag"),
            Err(ReferenceError::Invalid(_))
        ));
    }
}
