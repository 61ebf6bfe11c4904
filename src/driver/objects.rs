//! Whole objects, streams, `stat`, `list` and recursive `delete`.

use super::S3Driver;
use crate::error::{BackendError, Error, Result};
use crate::file_info::FileInfo;
use crate::path;
use crate::reader::FileReader;
use crate::s3::request::{LIST_MAX, ListObjects};
use crate::s3::xml::DeleteResult;
use crate::transport::Transport;

/// `path-not-found` for `path` when the server said "no such object".
fn not_found_as_path<R>(r: Result<R>, path: &str) -> Result<R> {
    match r {
        Err(e) if e.is_not_found() => Err(Error::PathNotFound {
            path: path.to_owned(),
        }),
        other => other,
    }
}

/// Where the next page of a listing under prefix `key` starts, for deleting
/// `key` and `key/...`, after a page ending at `last`; `None` when no later
/// key can be either. Keys come in byte order, so the siblings sharing the
/// prefix sort around `key/`: `key-x` and `key.x` before it, `key0` and
/// `keyz` after. The reference pages through all of them and keeps only
/// its own; deleting repository `foo` next to a large `foo-bar` or `fooz`
/// then lists every key of those too.
fn next_delete_page(key: &str, last: &str) -> Option<String> {
    match last.as_bytes().get(key.len()) {
        // Past `key/`: everything after is a sibling.
        Some(&b) if b > b'/' => None,
        // Among the siblings before `key/`: skip to just before it. U+10FFFF
        // is the largest character, so of the keys before `key/` only those
        // starting `key.` and U+10FFFF come after the jump (and are filtered).
        Some(&b) if b < b'/' => {
            let jump = format!("{key}.\u{10FFFF}");
            Some(if jump.as_str() > last {
                jump
            } else {
                last.to_owned()
            })
        }
        _ => Some(last.to_owned()),
    }
}

impl<T: Transport> S3Driver<T> {
    /// The whole content of a file, in one GET; a reply cut short is tried
    /// again.
    pub fn get_content(&self, path: &str) -> Result<Vec<u8>> {
        path::check(path)?;
        let op = format!("get-content {path}");
        let content = self.client.get_range(&op, &self.keys.key(path), 0);
        not_found_as_path(content, path)
    }

    /// Stores `content` with one PutObject.
    pub fn put_content(&self, path: &str, content: &[u8]) -> Result<()> {
        path::check(path)?;
        let op = format!("put-content {path}");
        let req = self
            .client
            .requests()
            .put_object(&self.keys.key(path), content);
        self.client.call_drain(&op, req, content)
    }

    pub(super) fn open_reader(&self, path: &str, offset: i64) -> Result<FileReader<T::Body>> {
        if offset < 0 {
            return Err(Error::InvalidOffset {
                path: path.to_owned(),
                offset,
            });
        }
        path::check(path)?;
        let op = format!("reader {path}");
        let req = self
            .client
            .requests()
            .get_object(&self.keys.key(path), offset as u64);
        let reader = self
            .client
            .exchange(&op, &req, &[], 1, |resp| match resp.status {
                200 | 206 => Ok(FileReader::new(resp)),
                // InvalidRange: at or past the end (or any offset of an empty object).
                416 => {
                    resp.discard_body();
                    Ok(FileReader::empty())
                }
                _ => Err(self.client.reply_error(&op, resp)),
            });
        not_found_as_path(reader, path)
    }

    /// HEAD first; for a missing key, a listing under `path/` decides whether
    /// it is a directory. Unlike the reference, `/a/b` is not a directory just
    /// because `/a/bc` exists.
    pub fn stat(&self, path: &str) -> Result<FileInfo> {
        path::check_or_root(path)?;
        let op = format!("stat {path}");
        if path != "/"
            && let Some(head) = self.client.head_object(&op, &self.keys.key(path))?
        {
            return Ok(FileInfo {
                path: path.to_owned(),
                size: head.size,
                mod_time: head.mod_time,
                is_dir: false,
            });
        }
        let prefix = self.keys.dir_prefix(path);
        let page = self.client.list_objects(
            &op,
            &ListObjects {
                prefix: &prefix,
                max_keys: 1,
                ..Default::default()
            },
        )?;
        if page.contents.is_empty() && page.common_prefixes.is_empty() {
            return Err(Error::PathNotFound {
                path: path.to_owned(),
            });
        }
        Ok(FileInfo::dir(path))
    }

    /// Direct children: files first, then directories, as S3 lists them.
    pub fn list(&self, path: &str) -> Result<Vec<String>> {
        path::check_or_root(path)?;
        let op = format!("list {path}");
        let prefix = self.keys.dir_prefix(path);
        let (mut files, mut dirs) = (Vec::new(), Vec::new());
        let mut token: Option<String> = None;
        loop {
            let page = self.client.list_objects(
                &op,
                &ListObjects {
                    prefix: &prefix,
                    delimiter: Some("/"),
                    max_keys: LIST_MAX,
                    continuation_token: token.as_deref(),
                    start_after: None,
                },
            )?;
            // A key equal to the prefix is an empty-directory marker, not a child.
            files.extend(
                page.contents
                    .iter()
                    .filter(|o| o.key != prefix)
                    .map(|o| self.keys.path(&o.key)),
            );
            dirs.extend(
                page.common_prefixes
                    .iter()
                    .map(|p| self.keys.path(p.prefix.trim_end_matches('/'))),
            );
            if !page.is_truncated {
                break;
            }
            token = Some(page.next_continuation_token.ok_or_else(|| {
                Error::MalformedResponse(format!(
                    "{op}: truncated listing without NextContinuationToken"
                ))
            })?);
        }
        if path != "/" && files.is_empty() && dirs.is_empty() {
            return Err(Error::PathNotFound {
                path: path.to_owned(),
            });
        }
        files.extend(dirs);
        Ok(files)
    }

    /// Deletes `path` and everything under `path/`, in batches of at most 1000.
    /// Siblings that share the prefix (`/a/bc`, `/a/b-x`) are skipped, never a
    /// reason to stop, and not listed page after page either (see
    /// [`next_delete_page`]). Nothing to delete is `path-not-found`.
    pub fn delete(&self, path: &str) -> Result<()> {
        path::check(path)?;
        let op = format!("delete {path}");
        let key = self.keys.key(path);
        let below = format!("{key}/");
        let mut start_after: Option<String> = None;
        let mut deleted = 0usize;
        loop {
            let page = self.client.list_objects(
                &op,
                &ListObjects {
                    prefix: &key,
                    max_keys: LIST_MAX,
                    start_after: start_after.as_deref(),
                    ..Default::default()
                },
            )?;
            let batch: Vec<String> = page
                .contents
                .iter()
                .filter(|o| o.key == key || o.key.starts_with(&below))
                .map(|o| o.key.clone())
                .collect();
            if !batch.is_empty() {
                self.delete_batch(&op, &batch)?;
                deleted += batch.len();
            }
            match (page.is_truncated, page.contents.last()) {
                (true, Some(last)) => match next_delete_page(&key, &last.key) {
                    Some(next) => start_after = Some(next),
                    None => break,
                },
                _ => break,
            }
        }
        if deleted == 0 {
            return Err(Error::PathNotFound {
                path: path.to_owned(),
            });
        }
        Ok(())
    }

    fn delete_batch(&self, op: &str, keys: &[String]) -> Result<()> {
        let (req, body) = self.client.requests().delete_objects(keys);
        let result: DeleteResult = self.client.call_xml(op, req, &body, "DeleteResult")?;
        if let Some(first) = result.errors.first() {
            let detail = result
                .errors
                .iter()
                .map(|e| format!("{}: {} {}", e.key, e.code, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::Backend(BackendError {
                operation: op.to_owned(),
                code: first.code.clone(),
                message: format!(
                    "{} of {} keys not deleted: {detail}",
                    result.errors.len(),
                    keys.len()
                ),
                status: 200,
                request_id: String::new(),
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::next_delete_page;

    #[test]
    fn a_delete_listing_skips_the_siblings_around_its_directory() {
        // At the file itself or inside the directory: go on from there.
        assert_eq!(next_delete_page("a/foo", "a/foo").as_deref(), Some("a/foo"));
        assert_eq!(
            next_delete_page("a/foo", "a/foo/9").as_deref(),
            Some("a/foo/9")
        );
        // Past the directory: nothing later can be deleted.
        assert_eq!(next_delete_page("a/foo", "a/foo0"), None);
        assert_eq!(next_delete_page("a/foo", "a/fooz/k"), None);
        // Before it: straight to just before `a/foo/`.
        let jump = next_delete_page("a/foo", "a/foo-x/k").unwrap();
        assert!(jump.as_str() > "a/foo.zzz", "{jump:?}");
        assert!(jump.as_str() < "a/foo/", "{jump:?}");
        // Never backwards.
        let odd = "a/foo.\u{10FFFF}\u{10FFFF}";
        assert_eq!(next_delete_page("a/foo", odd).as_deref(), Some(odd));
    }
}
