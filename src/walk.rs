//! Walk: one flat ListObjectsV2 (no delimiter) over everything below `from`,
//! in lexical key order, with directories synthesised between keys the way
//! the reference driver does. Paginated: entries are produced a page at a time.

use std::collections::VecDeque;
use std::rc::Rc;

use crate::client::S3Client;
use crate::error::{Error, Result};
use crate::file_info::FileInfo;
use crate::path::{self, KeyMapper, is_subpath};
use crate::s3::request::{LIST_MAX, ListObjects};
use crate::time::UtcDateTime;
use crate::transport::Transport;

/// The parent of an absolute path (`/` for a top-level entry).
fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The directories between `prev` and the directory `dir`, top-down: `dir`
/// and its parents up to (not including) `/`, `prev`, or an ancestor of
/// `prev` — those were reported already.
fn directory_diff(prev: &str, dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut d = dir;
    while d != "/" && d != prev && !is_subpath(prev, d) {
        out.push(d.to_owned());
        d = parent(d);
    }
    out.reverse();
    out
}

/// A walk in progress.
pub struct Walker<T: Transport> {
    client: Rc<S3Client<T>>,
    keys: KeyMapper,
    prefix: String,
    start_after: Option<String>,
    token: Option<String>,
    started: bool,
    exhausted: bool,
    prev_dir: String,
    skipped: Vec<String>,
    pending: VecDeque<FileInfo>,
    op: String,
}

impl<T: Transport> Walker<T> {
    /// A walk of everything below `from` (`/` for all), after the hint if any.
    pub fn new(
        client: Rc<S3Client<T>>,
        keys: KeyMapper,
        from: &str,
        start_after_hint: Option<&str>,
    ) -> Result<Self> {
        path::check_or_root(from)?;
        if let Some(h) = start_after_hint.filter(|h| !h.is_empty()) {
            path::check_or_root(h)?;
        }
        let prefix = keys.dir_prefix(from);
        // No StartAfter at all without a hint: SeaweedFS returns nothing for one.
        let start_after = start_after_hint
            .filter(|h| !h.is_empty())
            .map(|h| keys.key(h));
        Ok(Self {
            op: format!("walk {from}"),
            prefix,
            start_after,
            token: None,
            started: false,
            exhausted: false,
            prev_dir: from.to_owned(),
            skipped: Vec::new(),
            pending: VecDeque::new(),
            client,
            keys,
        })
    }

    /// Leaves out everything below `dir` not returned yet.
    pub fn skip_dir(&mut self, dir: &str) {
        self.pending
            .retain(|e| !(e.path != dir && is_subpath(&e.path, dir)));
        self.skipped.push(dir.to_owned());
    }

    fn is_skipped(&self, path: &str) -> bool {
        self.skipped
            .iter()
            .any(|d| path != d && is_subpath(path, d))
    }

    fn fetch_page(&mut self) -> Result<()> {
        let page = self.client.list_objects(
            &self.op,
            &ListObjects {
                prefix: &self.prefix,
                delimiter: None,
                max_keys: LIST_MAX,
                continuation_token: self.token.as_deref(),
                start_after: if self.started {
                    None
                } else {
                    self.start_after.as_deref()
                },
            },
        )?;
        self.started = true;
        for object in &page.contents {
            let path = self.keys.path(&object.key);
            // A key ending in `/` is an empty-directory marker: only directories.
            let (dir, file) = match path.strip_suffix('/') {
                Some(d) => (d.to_owned(), false),
                None => (parent(&path).to_owned(), true),
            };
            if dir.is_empty() {
                continue;
            }
            for d in directory_diff(&self.prev_dir, &dir) {
                self.pending.push_back(FileInfo::dir(d));
            }
            self.prev_dir = dir;
            if file {
                self.pending.push_back(FileInfo {
                    path,
                    size: object.size,
                    mod_time: UtcDateTime::parse_iso8601(&object.last_modified),
                    is_dir: false,
                });
            }
        }
        if page.is_truncated {
            self.token = Some(page.next_continuation_token.ok_or_else(|| {
                Error::MalformedResponse(format!(
                    "{}: truncated listing without NextContinuationToken",
                    self.op
                ))
            })?);
        } else {
            self.exhausted = true;
        }
        Ok(())
    }

    /// Up to `max` next entries; empty when the walk is over.
    pub fn next(&mut self, max: usize) -> Result<Vec<FileInfo>> {
        let mut out = Vec::new();
        while out.len() < max.max(1) {
            if self.pending.is_empty() {
                if self.exhausted {
                    break;
                }
                self.fetch_page()?;
                continue;
            }
            let entry = self.pending.pop_front().expect("not empty");
            if !self.is_skipped(&entry.path) {
                out.push(entry);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_diff_matches_the_reference() {
        assert_eq!(directory_diff("/", "/a/b/c"), ["/a", "/a/b", "/a/b/c"]);
        assert_eq!(directory_diff("/a/b", "/a/b"), Vec::<String>::new());
        assert_eq!(directory_diff("/a/b/c", "/a/d"), ["/a/d"]);
        assert_eq!(directory_diff("/a/b/c", "/a/b"), Vec::<String>::new());
        assert_eq!(
            directory_diff("/folder1", "/folder1-suffix"),
            ["/folder1-suffix"]
        );
        assert_eq!(directory_diff("/", "/"), Vec::<String>::new());
    }

    #[test]
    fn parents() {
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/a/b"), "/a");
    }
}
