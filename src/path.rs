//! Distribution's path rules and the mapping between storage paths and S3 keys.

use crate::error::{Error, Result};

/// True when `path` matches `^(/[A-Za-z0-9._-]+)+$`.
pub fn is_valid(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    rest.split('/').all(|c| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    })
}

/// Checks a path for operations that never accept `/` alone.
pub fn check(path: &str) -> Result<()> {
    if is_valid(path) {
        Ok(())
    } else {
        Err(Error::InvalidPath {
            path: path.to_owned(),
        })
    }
}

/// Checks a path for `stat`, `list` and `walk`, which also accept `/`.
pub fn check_or_root(path: &str) -> Result<()> {
    if path == "/" { Ok(()) } else { check(path) }
}

/// True when `path` is `parent` or lies below it (`/` contains everything).
pub fn is_subpath(path: &str, parent: &str) -> bool {
    if parent.is_empty() {
        return false;
    }
    path == parent
        || parent == "/"
        || path
            .strip_prefix(parent)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Maps storage paths to S3 keys under `rootdirectory` and back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMapper {
    /// The key prefix for `/`: the root without leading or trailing slashes.
    root: String,
}

impl KeyMapper {
    /// A mapper for the `rootdirectory` parameter (`""`, `/reg/`, `reg`...).
    pub fn new(root_directory: &str) -> Self {
        Self {
            root: root_directory.trim_matches('/').to_owned(),
        }
    }

    /// The S3 key of a storage path: the reference's `s3Path`, which joins the
    /// root and the path and then drops every leading `/`.
    pub fn key(&self, path: &str) -> String {
        let joined = format!("{}{}", self.root, path);
        joined.trim_start_matches('/').to_owned()
    }

    /// The prefix that lists everything strictly below `path`.
    pub fn dir_prefix(&self, path: &str) -> String {
        if path == "/" {
            self.key("/")
        } else {
            self.key(&format!("{path}/"))
        }
    }

    /// The storage path of a listed key (or common prefix without its `/`).
    pub fn path(&self, key: &str) -> String {
        let rest = key.strip_prefix(self.root.as_str()).unwrap_or(key);
        if rest.starts_with('/') {
            rest.to_owned()
        } else {
            format!("/{rest}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec 5.2 TestValidPaths.
    const VALID: &[&str] = &[
        "/a",
        "/2",
        "/aa",
        "/a.a",
        "/0-9/abcdefg",
        "/abcdefg/z.75",
        "/abc/1.2.3.4.5-6_zyx/123.z/4",
        "/docker/docker-registry",
        "/123.abc",
        "/abc./abc",
        "/.abc",
        "/a--b",
        "/a-.b",
        "/_.abc",
        "/Docker/docker-registry",
        "/Abc/Cba",
    ];

    /// Spec 5.2 TestInvalidPaths, plus the reference S3 tests' `*` and trailing `/`.
    const INVALID: &[&str] = &[
        "",
        "/",
        "abc",
        "123.abc",
        "//bcd",
        "/abc_123/",
        "/a/*",
        "/a b",
        "/ä",
    ];

    #[test]
    fn reference_valid_paths_pass() {
        for p in VALID {
            assert!(is_valid(p), "{p} should be valid");
        }
    }

    #[test]
    fn reference_invalid_paths_fail() {
        for p in INVALID {
            assert!(!is_valid(p), "{p:?} should be invalid");
            assert_eq!(check(p), Err(Error::InvalidPath { path: (*p).into() }));
        }
    }

    #[test]
    fn root_is_allowed_only_where_the_reference_allows_it() {
        assert!(check_or_root("/").is_ok());
        assert!(check("/").is_err());
        assert!(check_or_root("//").is_err());
    }

    /// Spec 2.3's table.
    #[test]
    fn keys_follow_s3path() {
        assert_eq!(KeyMapper::new("").key("/docker/x"), "docker/x");
        assert_eq!(KeyMapper::new("/reg/").key("/docker/x"), "reg/docker/x");
        assert_eq!(KeyMapper::new("").key("/"), "");
        assert_eq!(KeyMapper::new("reg").key("/"), "reg/");
        assert_eq!(KeyMapper::new("/").key("/a"), "a");
    }

    #[test]
    fn listed_keys_map_back_to_absolute_paths() {
        let m = KeyMapper::new("/reg/");
        assert_eq!(m.path("reg/docker/x"), "/docker/x");
        assert_eq!(m.path("reg/docker"), "/docker");
        let m = KeyMapper::new("");
        assert_eq!(m.path("docker/x"), "/docker/x");
        let m = KeyMapper::new("/");
        assert_eq!(m.path("a"), "/a");
    }

    #[test]
    fn directory_prefixes_end_with_a_slash() {
        let m = KeyMapper::new("reg");
        assert_eq!(m.dir_prefix("/"), "reg/");
        assert_eq!(m.dir_prefix("/a"), "reg/a/");
        assert_eq!(KeyMapper::new("").dir_prefix("/"), "");
    }

    /// Spec 6 TestIsSubpath.
    #[test]
    fn subpaths_match_the_reference() {
        assert!(!is_subpath("/a", ""));
        assert!(is_subpath("/a", "/a"));
        assert!(is_subpath("/a/b/c", "/a"));
        assert!(!is_subpath("/tags/1.20/current", "/tags/1.2"));
        assert!(is_subpath("/anything", "/"));
    }
}
