//! ListObjectsV2 without a delimiter for the embedded server. s3s-fs walks
//! the whole bucket for every such listing, so each delete of a registry
//! directory cost a walk of every blob ever stored; this walks only the
//! directories that can hold keys with the prefix.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use s3s::dto::{ListObjectsV2Input, ListObjectsV2Output, Object, Timestamp};
use s3s::{S3Result, s3_error};

/// An error that means the path is not (or no longer) a directory or file.
fn gone(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// Every object of the bucket at `bucket_root` whose key starts with `prefix`.
async fn objects_below(bucket_root: &Path, prefix: &str) -> S3Result<Vec<Object>> {
    // Keys with the prefix live below the directory of its last `/`.
    let base = match prefix.rfind('/') {
        Some(i) => &prefix[..=i],
        None => "",
    };
    if base.split('/').any(|part| part == ".." || part == ".") {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut dirs: VecDeque<(PathBuf, String)> = VecDeque::new();
    dirs.push_back((bucket_root.join(base), base.to_owned()));
    while let Some((dir, key_base)) = dirs.pop_front() {
        // A key's directory may be gone, or be a file (an object whose key
        // is the prefix), by the time it is read: it then holds nothing.
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(e) => e,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(s3_error!(e, InternalError)),
        };
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| s3_error!(e, InternalError))?
        {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let key = format!("{key_base}{name}");
            let kind = entry
                .file_type()
                .await
                .map_err(|e| s3_error!(e, InternalError))?;
            if kind.is_dir() {
                let below = format!("{key}/");
                // Only directories whose keys can still start with the prefix.
                if below.starts_with(prefix) || prefix.starts_with(&below) {
                    dirs.push_back((entry.path(), below));
                }
            } else if key.starts_with(prefix) {
                let meta = match entry.metadata().await {
                    Ok(m) => m,
                    // Deleted since the directory was read.
                    Err(e) if gone(&e) => continue,
                    Err(e) => return Err(s3_error!(e, InternalError)),
                };
                let modified = meta.modified().map_err(|e| s3_error!(e, InternalError))?;
                out.push(Object {
                    key: Some(key),
                    last_modified: Some(Timestamp::from(modified)),
                    size: Some(i64::try_from(meta.len()).unwrap_or(i64::MAX)),
                    ..Default::default()
                });
            }
        }
    }
    Ok(out)
}

/// ListObjectsV2 with no delimiter, as s3s-fs answers it (the continuation
/// token is the last key returned), from a walk of the prefix's directory.
pub(crate) async fn list_flat(
    bucket_root: &Path,
    input: &ListObjectsV2Input,
) -> S3Result<ListObjectsV2Output> {
    let prefix = input
        .prefix
        .as_deref()
        .unwrap_or("")
        .trim_start_matches('/');
    let mut objects = objects_below(bucket_root, prefix).await?;
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    let after = match (
        input.continuation_token.as_deref(),
        input.start_after.as_deref(),
    ) {
        (Some(ct), Some(sa)) => Some(ct.max(sa)),
        (Some(k), None) | (None, Some(k)) => Some(k),
        (None, None) => None,
    };
    if let Some(after) = after {
        objects.retain(|o| o.key.as_deref().unwrap_or("") > after);
    }
    let max_keys = input.max_keys.unwrap_or(1000);
    let max = usize::try_from(max_keys.clamp(0, 1000)).unwrap_or(1000);
    let truncated = max > 0 && objects.len() > max;
    objects.truncate(max);
    let next = truncated
        .then(|| objects.last().and_then(|o| o.key.clone()))
        .flatten();
    Ok(ListObjectsV2Output {
        name: Some(input.bucket.clone()),
        prefix: input.prefix.clone(),
        max_keys: Some(max_keys),
        key_count: Some(objects.len() as i32),
        is_truncated: Some(truncated),
        continuation_token: input.continuation_token.clone(),
        next_continuation_token: next,
        start_after: input.start_after.clone(),
        encoding_type: input.encoding_type.clone(),
        contents: (!objects.is_empty()).then_some(objects),
        ..Default::default()
    })
}
